"""Building blocks shared by several architectures."""

from __future__ import annotations

import math

import torch
from torch import nn


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over time of the valid frames.

    Args:
        x: (batch, time, dims); mask: (batch, time) bool, True where a frame is real.
    Returns:
        (batch, dims)
    """
    weights = mask.unsqueeze(-1).to(x.dtype)
    return (x * weights).sum(1) / weights.sum(1).clamp_min(1.0)


UTTERANCE_NORMS = ("none", "level", "mean", "meanvar")


class UtteranceNorm(nn.Module):
    """Normalise each clip by its own frames: no speaker, no corpus statistics needed.

    ``level`` subtracts the clip's mean over all its frames and bands: its loudness (recording
    level, distance to the microphone) cancels, the shape of its spectrum stays.
    ``mean`` subtracts each band's mean over the clip's valid frames: a fixed channel (microphone,
    room colouring, level) is an offset per band in the log-mel domain, so it cancels.
    ``meanvar`` also divides by each band's standard deviation. ``none`` passes frames through.
    Part of the model, so every way of running it (predict, listen, eval, ONNX) does the same.
    (batch, time, feats), mask (batch, time) -> (batch, time, feats), padded frames zero.
    """

    def __init__(self, mode: str = "none"):
        super().__init__()
        if mode not in UTTERANCE_NORMS:
            raise ValueError(
                f"utterance_norm must be one of {', '.join(UTTERANCE_NORMS)}, not {mode!r}"
            )
        self.mode = mode

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.mode == "none":
            return x
        weights = mask.unsqueeze(-1).to(x.dtype)
        if self.mode == "level":
            level = masked_mean(x, mask).mean(-1)
            return (x - level[:, None, None]) * weights
        x = (x - masked_mean(x, mask).unsqueeze(1)) * weights
        if self.mode == "meanvar":
            x = x / (masked_mean(x * x, mask).unsqueeze(1) + 1e-3).sqrt()
        return x


class AttentivePooling(nn.Module):
    """Attentive statistics pooling: attention-weighted mean and standard deviation over time.

    (batch, time, dims) -> (batch, 2 * dims)
    """

    def __init__(self, dims: int, hidden: int = 128):
        super().__init__()
        self.score = nn.Sequential(nn.Linear(dims, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.score(x).squeeze(-1).masked_fill(~mask, torch.finfo(x.dtype).min)
        weights = torch.softmax(scores, dim=1).unsqueeze(-1)
        mean = (weights * x).sum(1)
        var = (weights * (x - mean.unsqueeze(1)) ** 2).sum(1)
        return torch.cat([mean, var.clamp_min(1e-6).sqrt()], dim=-1)


class SinusoidalPositions(nn.Module):
    """Fixed sinusoidal position encodings added to (batch, time, dims)."""

    def __init__(self, dims: int, max_len: int = 4000):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, dims, 2) * (-math.log(10000.0) / dims))
        table = torch.zeros(max_len, dims)
        table[:, 0::2] = torch.sin(position * div)
        table[:, 1::2] = torch.cos(position * div)
        self.register_buffer("table", table, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.table[: x.shape[1]].unsqueeze(0)


class ConvBlock2d(nn.Module):
    """Two 3x3 convolutions with batch norm and a residual path, then 2x2 max pooling.

    (batch, in_ch, freq, time), mask (batch, time) -> (batch, out_ch, freq // 2, time // 2) and
    the pooled mask. Padded frames are zeroed before each convolution, so a clip's valid
    frames see exactly the zeros they would see alone (a 3x3 convolution would otherwise
    carry the first layer's response to padding into the last valid frames); an unpadded
    clip's mask is all ones, so masking leaves its result unchanged.
    """

    def __init__(self, in_ch: int, out_ch: int, dropout: float = 0.0):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
        )
        self.skip = (
            nn.Identity()
            if in_ch == out_ch
            else nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch))
        )
        self.out = nn.Sequential(nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        keep = mask[:, None, None, :].to(x.dtype)  # (batch, 1, 1, time)
        x = x * keep
        h = self.body[3:](self.body[:3](x) * keep)  # conv-bn-relu, re-mask, conv-bn
        out = self.out(h + self.skip(x))
        return out, downsample_mask(mask, 2, out.shape[-1])


def downsample_mask(mask: torch.Tensor, factor: int, length: int) -> torch.Tensor:
    """A frame mask after time pooling by ``factor``, cut to ``length`` frames."""
    lengths = mask.sum(1)
    new_lengths = torch.div(lengths, factor, rounding_mode="floor").clamp(min=1)
    return torch.arange(length, device=mask.device).unsqueeze(0) < new_lengths.unsqueeze(1)


def pad_frames(
    x: torch.Tensor, mask: torch.Tensor, min_frames: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad (batch, time, dims) in time to at least ``min_frames``; the padding is masked out.

    Models that pool time by a factor need that many frames: a clip that is short after silence
    trimming (a 0.3 s click) is classified from its few real frames instead of crashing.
    """
    missing = min_frames - x.shape[1]
    if missing <= 0:
        return x, mask
    x = torch.nn.functional.pad(x, (0, 0, 0, missing))
    mask = torch.nn.functional.pad(mask, (0, missing), value=False)
    return x, mask
