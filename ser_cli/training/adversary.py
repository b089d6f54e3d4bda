"""Corpus-adversarial training: a clip's pooled features should not tell which corpus it is.

``train.corpus_adversary`` (a weight; 0 = off) adds a small classifier that reads the vector a
model's emotion head reads (its pooled clip embedding) and learns to name the clip's corpus,
through a gradient-reversal layer (Ganin & Lempitsky, 2015, "Unsupervised domain adaptation by
backpropagation"): the classifier descends its loss, the network below it ascends it, so
whatever tells the studios apart is trained out of the embedding while the emotion loss keeps
what tells emotions apart. The reversal's strength ramps from 0 to the weight over the run
(their schedule, ``2 / (1 + exp(-10 p)) - 1``), so the features first learn emotion at all.

The classifier exists only in training: it is saved beside ``last`` for ``--resume``
(``last.adversary.safetensors``) and never in the model, so exports and predictions are those
of the model alone. It needs a train split of at least two corpora.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ser_cli.atomic import atomic_path
from ser_cli.errors import ConfigError, ModelError

ADVERSARY_FILE = "last.adversary.safetensors"
HIDDEN = 64  # the corpus classifier's hidden width: a small MLP, as in the paper


def ramp(progress: float) -> float:
    """The reversal's share of its full strength at ``progress`` (0..1) through the run."""
    return 2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0


def check_adversary(cfg, train_rows: list[dict]) -> None:
    """Refuse ``train.corpus_adversary`` where it cannot work, before any feature is computed."""
    from ser_cli.models import get_spec

    if get_spec(cfg.model).fitter != "gradient":
        raise ConfigError(
            f"train.corpus_adversary needs a gradient-trained model, not '{cfg.model}'; "
            "set train.corpus_adversary=0."
        )
    corpora = {r.get("corpus") or "" for r in train_rows}
    if len(corpora) < 2:
        raise ConfigError(
            "train.corpus_adversary needs a train split of at least two corpora (the manifest's "
            "corpus column); this one has one: `ser prepare` several corpora into one manifest, "
            "or set train.corpus_adversary=0."
        )


def pooled_head(model):
    """The module whose input is a model's pooled clip vector: its emotion head, a Sequential
    of dropout and a linear layer (the fine-tuned encoder's lives inside its SSL head).
    Raises ConfigError for a model without one."""
    from torch import nn

    head = getattr(model, "head", None)
    head = getattr(head, "head", head)  # ssl fine-tuning: SSLHead holds the Sequential
    if isinstance(head, nn.Sequential) and any(isinstance(m, nn.Linear) for m in head):
        return head
    raise ConfigError(
        f"train.corpus_adversary needs a model with a pooled clip embedding; "
        f"{type(model).__name__} has none: set train.corpus_adversary=0."
    )


class CorpusAdversary:
    """The corpus classifier, hooked onto a model's emotion head (see the module docstring).

    After each training forward pass of the model, :meth:`loss` gives the batch's corpus
    cross-entropy through the reversal; add it to the emotion loss before ``backward``.
    """

    def __init__(self, model, n_corpora: int, weight: float, device: str, wrap=lambda m, d: m):
        import torch
        from torch import nn

        head = pooled_head(model)
        dims = next(m for m in head if isinstance(m, nn.Linear)).in_features
        self.classifier = nn.Sequential(
            nn.Linear(dims, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, n_corpora)
        ).to(device)
        self.net = wrap(self.classifier, device)  # DistributedDataParallel under torchrun
        self.weight = weight
        self.device = device
        self._pooled = None
        self._reverse = _reversal(torch)
        head.register_forward_pre_hook(self._keep)

    def _keep(self, module, inputs) -> None:
        if module.training:  # evaluation passes leave the last training batch alone
            self._pooled = inputs[0]

    def parameters(self):
        return self.classifier.parameters()

    def loss(self, corpora: np.ndarray, progress: float):
        """Cross-entropy of the corpus classifier on the last training batch's pooled vectors;
        the gradient reaching the model is reversed and scaled by ``weight x ramp(progress)``."""
        import torch

        if self._pooled is None:
            raise RuntimeError("CorpusAdversary.loss before a training forward pass")
        pooled, self._pooled = self._pooled.float(), None
        scale = self.weight * ramp(progress)
        logits = self.net(self._reverse(pooled, scale))
        target = torch.from_numpy(corpora).to(self.device)
        return torch.nn.functional.cross_entropy(logits, target)

    def save(self, run_dir: Path) -> None:
        from safetensors.torch import save_file

        tensors = {
            k: v.detach().cpu().contiguous() for k, v in self.classifier.state_dict().items()
        }
        with atomic_path(Path(run_dir) / ADVERSARY_FILE) as tmp:
            save_file(tensors, str(tmp))

    def load(self, run_dir: Path) -> None:
        """Restore the classifier saved with ``last`` (a resumed run)."""
        from safetensors.torch import load_file

        path = Path(run_dir) / ADVERSARY_FILE
        try:
            self.classifier.load_state_dict(load_file(str(path), device=self.device))
        except Exception as exc:  # noqa: BLE001 - missing, truncated or another shape alike
            raise ModelError(
                f"{path}: cannot resume this corpus-adversarial run, its corpus classifier is "
                f"missing or damaged ({type(exc).__name__}); train into a new --out."
            ) from None


def _reversal(torch):
    """x -> x forward; the gradient times -scale backward."""

    class Reverse(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale):
            ctx.scale = scale
            return x.view_as(x)

        @staticmethod
        def backward(ctx, grad):
            return -ctx.scale * grad, None

    return Reverse.apply
