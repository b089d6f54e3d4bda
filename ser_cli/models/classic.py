"""The classic baseline: utterance-level statistics of the frames + a linear classifier.

The statistics (mean, standard deviation, 10th/90th percentiles of every band and of its
time derivative) are computed inside the module, so the baseline loads and predicts exactly
like the neural models; its weights are fitted by scikit-learn's logistic regression
(:func:`fit_classic`) instead of by gradient descent.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

STATS_PER_BAND = 8  # mean, std, p10, p90 of the band and of its delta


@dataclass(frozen=True)
class ClassicConfig:
    n_features: int = 64
    n_classes: int = 8
    C: float = 0.5  # inverse L2 strength of the logistic regression


def utterance_stats(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(batch, time, bands), mask -> (batch, STATS_PER_BAND * bands)."""
    out = []
    for i in range(x.shape[0]):
        frames = x[i][mask[i]]
        if frames.shape[0] < 2:
            frames = torch.cat([frames, frames], dim=0) if frames.shape[0] else x[i][:2]
        delta = frames[1:] - frames[:-1]
        parts = []
        for f in (frames, delta):
            q = torch.quantile(f, torch.tensor([0.1, 0.9], dtype=f.dtype), dim=0)
            parts += [f.mean(0), f.std(0), q[0], q[1]]
        out.append(torch.cat(parts))
    return torch.stack(out)


class ClassicLinear(nn.Module):
    """Standardised utterance statistics -> linear layer. (B, T, F), mask -> (B, C) logits."""

    def __init__(self, cfg: ClassicConfig):
        super().__init__()
        self.cfg = cfg
        dims = STATS_PER_BAND * cfg.n_features
        self.register_buffer("mean", torch.zeros(dims))
        self.register_buffer("scale", torch.ones(dims))
        self.linear = nn.Linear(dims, cfg.n_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.linear((utterance_stats(x, mask) - self.mean) / self.scale)


def fit_classic(
    model: ClassicLinear,
    stats: torch.Tensor,
    labels: torch.Tensor,
    class_weight: dict,
    seed: int = 0,
) -> None:
    """Fit the scaler and logistic regression with scikit-learn and copy them into ``model``.

    Args:
        stats: (clips, dims) from :func:`utterance_stats`; labels: (clips,) class indices.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X = stats.double().numpy()
    scaler = StandardScaler().fit(X)
    clf = LogisticRegression(
        C=model.cfg.C, max_iter=2000, class_weight=class_weight, random_state=seed
    )
    clf.fit(scaler.transform(X), labels.numpy())
    n_classes = model.cfg.n_classes
    weight = torch.zeros(n_classes, X.shape[1])
    bias = torch.full((n_classes,), -1e4)  # classes absent from training are never predicted
    weight[torch.as_tensor(clf.classes_)] = torch.as_tensor(clf.coef_, dtype=torch.float32)
    bias[torch.as_tensor(clf.classes_)] = torch.as_tensor(clf.intercept_, dtype=torch.float32)
    with torch.no_grad():
        model.mean.copy_(torch.as_tensor(scaler.mean_, dtype=torch.float32))
        model.scale.copy_(torch.as_tensor(scaler.scale_, dtype=torch.float32).clamp_min(1e-6))
        model.linear.weight.copy_(weight)
        model.linear.bias.copy_(bias)
