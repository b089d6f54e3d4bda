"""Ensembles: several trained runs on one training set, served as one model.

``combine_runs`` (:mod:`ser_cli.models.combine`) checks that the runs agree on everything the input pipeline reads (the
features, the labels, the normalisation and its statistics: one preprocessing feeds every
member) and writes one checkpoint folder: the weights hold every member
(``members.<i>.<name>``) and the sidecar is the first member's, with ``ensemble: {members, runs,
seeds, epochs, models}`` added, ``models`` holding each member's model name and config (members may
differ in architecture: seeds of one recipe, or recipes that differ in the model's options).
``load_checkpoint`` rebuilds it as :class:`Ensemble`, whose output is the log of the members'
mean probability: a logit vector
like any model's (softmax gives the mean back), so temperature scaling, ``ser predict``,
``ser listen``, ``ser eval`` and ONNX export serve an ensemble unchanged.

The members' own temperatures do not carry over (the average of calibrated members is not
calibrated): the ensemble starts at temperature 1, and a temperature fitted on held-out
predictions of the ensemble can be written into its sidecar (benchmarks/train_default_model.py).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from ser_cli.errors import ModelError


class Ensemble(nn.Module):
    """Members' mean probability, as log-probabilities. (batch, time, feats), mask -> (batch, classes)."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        log_probs = torch.stack([torch.log_softmax(m(x, mask), dim=-1) for m in self.members])
        return torch.logsumexp(log_probs, dim=0) - math.log(len(self.members))


def members_of(meta: dict, path: Path) -> int:
    """How many members a sidecar's ensemble has (0 for a single model); ModelError if damaged."""
    info = meta.get("ensemble")
    if info is None:
        return 0
    n = info.get("members") if isinstance(info, dict) else None
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise ModelError(
            f"{path}: 'ensemble.members' is {n!r}, not a count of 2 or more; the checkpoint is "
            "corrupt or from another tool."
        )
    return n


def member_models(meta: dict, path: Path) -> list[tuple[str, dict]]:
    """Each member's (model name, model_config) of an ensemble's sidecar.

    Ensembles written before members could differ hold none: every member is then the
    sidecar's own model.
    """
    info = meta["ensemble"]
    models = info.get("models")
    if models is None:
        return [(meta["model"], meta["model_config"])] * info["members"]
    if not isinstance(models, list) or len(models) != info["members"]:
        raise ModelError(
            f"{path}: 'ensemble.models' lists {len(models) if isinstance(models, list) else models!r} "
            f"models for {info['members']} members; the checkpoint is corrupt or from another tool."
        )
    return [(m["model"], m["model_config"]) for m in models]
