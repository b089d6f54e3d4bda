"""Convolutional models over (time, mel) spectrogram frames.

``base``: a 2-D CNN front end and a bidirectional GRU, mean-pooled.
``enhanced``: a deeper residual 2-D CNN with attentive statistics pooling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ser_cli.models.layers import (
    AttentivePooling,
    ConvBlock2d,
    UtteranceNorm,
    masked_mean,
    pad_frames,
)
from ser_cli.validation import at_least


@dataclass(frozen=True)
class BaseConfig:
    n_features: int = 64  # input feature dims (mel bands)
    n_classes: int = 8
    channels: tuple[int, ...] = (16, 32, 64)  # conv block widths; each halves freq and time
    rnn_hidden: int = 96  # GRU units per direction
    dropout: float = 0.3


class BaseCNNRNN(nn.Module):
    """CNN front end + bidirectional GRU. (batch, time, feats), mask -> (batch, classes)."""

    def __init__(self, cfg: BaseConfig):
        super().__init__()
        self.cfg = cfg
        blocks, in_ch = [], 1
        for ch in cfg.channels:
            blocks.append(ConvBlock2d(in_ch, ch, dropout=0.1))
            in_ch = ch
        self.cnn = nn.Sequential(*blocks)
        self.factor = 2 ** len(cfg.channels)
        freq_out = cfg.n_features // self.factor
        self.rnn = nn.GRU(in_ch * freq_out, cfg.rnn_hidden, batch_first=True, bidirectional=True)
        self.head = nn.Sequential(
            nn.Dropout(cfg.dropout), nn.Linear(2 * cfg.rnn_hidden, cfg.n_classes)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x, mask = pad_frames(x, mask, self.factor)  # each pooling halves time: need factor frames
        h, m = conv_stack(self.cnn, x, mask)  # (B, C, F', T'), (B, T')
        b, c, f, t = h.shape
        h = h.permute(0, 3, 1, 2).reshape(b, t, c * f)
        # Packed, so the backward direction starts at each clip's last valid frame, not in padding.
        lengths = m.sum(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            h, lengths, batch_first=True, enforce_sorted=False
        )
        h, _ = nn.utils.rnn.pad_packed_sequence(
            self.rnn(packed)[0], batch_first=True, total_length=t
        )
        return self.head(masked_mean(h, m))


# Dropout on the voice embedding: the voice head is a linear model on 256 values fitted to a
# few thousand acted clips; strong regularisation is what made it transfer across corpora
# (docs/corpora.md).
VOICE_DROPOUT = 0.5


def voice_head(dims: int, n_classes: int) -> nn.Sequential:
    """The voice head: dropout, then a linear layer from the ``dims`` embedding to the classes."""
    return nn.Sequential(nn.Dropout(VOICE_DROPOUT), nn.Linear(dims, n_classes))


def voice_penalty(head: nn.Sequential, voice_l2: float) -> torch.Tensor:
    """``voice_l2`` times the squared weights of a :func:`voice_head` (model_options.voice_l2)."""
    return voice_l2 * head[1].weight.pow(2).sum()


@dataclass(frozen=True)
class EnhancedConfig:
    n_features: int = 40
    n_classes: int = 8
    channels: tuple[int, ...] = (8, 16, 32, 64)  # residual conv block widths
    dropout: float = 0.3
    # Per-clip normalisation before the convolutions (layers.UtteranceNorm): "none", "level"
    # (removes each recording's loudness), "mean" (its channel and loudness) or "meanvar".
    utterance_norm: str = "mean"
    # The last voice_dims values of each frame are a voice embedding (features.voice; set from
    # the features, not by users): read by a second, linear head, see EnhancedCNN.
    voice_dims: int = 0
    # L2 penalty on the voice head's weights, added to the training loss (voice_l2 x their
    # squared sum): a stronger prior than its dropout alone that the voice changes it learned
    # on a few corpora hold for voices from others. 0 = dropout only.
    voice_l2: float = 0.0
    # Checkpoints written before an option existed load with the value they were trained with.
    ADDED_LATER: ClassVar[dict] = {"utterance_norm": "none", "voice_dims": 0, "voice_l2": 0.0}
    RULES: ClassVar[dict] = {"voice_l2": at_least(0)}
    # Options measured and not kept, with the value today's model behaves as: a checkpoint
    # that saved that value loads; any other is refused (the bundled model saved "mean").
    # MixStyle (mixstyle, a training-only mixing of feature statistics) left with its code at
    # 270b953; runs saved while it existed, with it off, still load.
    REMOVED: ClassVar[dict] = {"freq_pool": "mean", "mixstyle": 0.0}


class EnhancedCNN(nn.Module):
    """Residual 2-D CNN + attentive statistics pooling. (batch, time, feats), mask -> (batch, classes).

    With ``voice_dims``, each frame's last ``voice_dims`` values are the clip's voice embedding
    (a pretrained speaker encoder's, :mod:`ser_cli.features.voice`) and a second head, linear
    on that embedding, judges the clip beside the CNN. The two are experts trained each on
    its own loss (in training mode ``forward`` returns both heads' logits: the trainer takes
    the loss of each) and combined as a product at inference: log-softmax of the CNN plus
    log-softmax of the voice head, so either can veto a class. Trained jointly on one loss, the
    two would share the work and each learn less of what transfers to unheard corpora.
    """

    def __init__(self, cfg: EnhancedConfig):
        super().__init__()
        self.cfg = cfg
        self.voice = voice_head(cfg.voice_dims, cfg.n_classes) if cfg.voice_dims else None
        self.norm = UtteranceNorm(cfg.utterance_norm)
        blocks, in_ch = [], 1
        for i, ch in enumerate(cfg.channels):
            blocks.append(ConvBlock2d(in_ch, ch, dropout=0.1 if i < len(cfg.channels) - 1 else 0.2))
            in_ch = ch
        self.cnn = nn.Sequential(*blocks)
        self.factor = 2 ** len(cfg.channels)
        self.pool = AttentivePooling(in_ch)
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(2 * in_ch, cfg.n_classes))

    def penalty(self) -> torch.Tensor | None:
        """What training adds to the loss beside the heads' own losses: ``voice_l2`` times the
        voice head's squared weights (None without a voice head or with ``voice_l2`` 0)."""
        if self.voice is None or not self.cfg.voice_l2:
            return None
        return voice_penalty(self.voice, self.cfg.voice_l2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor):
        voice = None
        if self.voice is not None:
            x, embedding = x[..., : -self.cfg.voice_dims], x[..., -self.cfg.voice_dims :]
            voice = self.voice(masked_mean(embedding, mask))  # (B, classes)
        x, mask = pad_frames(x, mask, self.factor)  # each pooling halves time: need factor frames
        h, m = conv_stack(self.cnn, self.norm(x, mask), mask)  # (B, C, F', T'), (B, T')
        h = h.mean(2).transpose(1, 2)  # average over frequency: (B, T', C)
        logits = self.head(self.pool(h, m))
        if voice is None:
            return logits
        if self.training:
            return logits, voice
        return torch.log_softmax(logits, -1) + torch.log_softmax(voice, -1)


def conv_stack(blocks: nn.Sequential, x: torch.Tensor, mask: torch.Tensor):
    """Run ConvBlock2d blocks over (batch, time, feats) frames, carrying the mask through.

    Returns (batch, channels, freq', time') features and their (batch, time') mask.
    """
    h = x.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T)
    for block in blocks:
        h, mask = block(h, mask)
    return h, mask
