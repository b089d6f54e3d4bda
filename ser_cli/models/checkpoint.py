"""Self-describing checkpoints: weights in safetensors, everything else in a JSON sidecar.

A run folder holds ``best`` and ``last`` (``<tag>.safetensors`` + ``<tag>.json``), the
optimizer state for resuming (``last.optim.safetensors``), ``config.yaml`` and
``history.jsonl``. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ser_cli.atomic import atomic_path, write_json
from ser_cli.errors import ModelError

FORMAT = "ser-checkpoint"  # marks a sidecar as ours; anything else is a foreign file
FORMAT_VERSION = 1
NORM_MEAN = "normalization.mean"  # global feature statistics travel with the weights
NORM_STD = "normalization.std"


@dataclass
class Checkpoint:
    """A loaded model, ready for inference."""

    model: object  # torch.nn.Module in eval mode
    meta: dict  # the sidecar
    labels: tuple[str, ...]
    feature_config: object  # FeatureConfig
    global_stats: object  # normalization.Stats
    path: Path

    @property
    def normalization(self) -> str:
        return self.meta["train_config"]["normalization"]

    @property
    def temperature(self) -> float:
        """Softmax temperature fitted on validation data (1 = uncalibrated; see calibration)."""
        return float(self.meta.get("calibration", {}).get("temperature", 1.0))


def save_checkpoint(
    run_dir: Path, tag: str, model, meta: dict, global_stats, optimizer=None
) -> Path:
    """Write ``<tag>.safetensors`` and ``<tag>.json`` atomically (weights first, sidecar last)."""
    import torch
    from safetensors.torch import save_file

    from ser_cli.__version__ import __version__

    run_dir = Path(run_dir)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors[NORM_MEAN] = torch.as_tensor(global_stats.mean)
    tensors[NORM_STD] = torch.as_tensor(global_stats.std)
    weights = run_dir / f"{tag}.safetensors"
    with atomic_path(weights) as tmp:
        save_file(tensors, str(tmp))
    if optimizer is not None:
        with atomic_path(run_dir / f"{tag}.optim.safetensors") as tmp:
            save_file(_flatten_optimizer(optimizer), str(tmp))
    sidecar = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "ser_version": __version__,
        **meta,
    }
    write_json(run_dir / f"{tag}.json", sidecar)
    return weights


def read_sidecar(run_dir: Path, tag: str = "best") -> dict:
    """The JSON sidecar of a checkpoint, checked to be one of ours."""
    path = Path(run_dir) / f"{tag}.json"
    if not path.exists():
        raise ModelError(
            f"{run_dir}: no checkpoint '{tag}' here (expected {path.name}); is this a `ser train` run folder?"
        )
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ModelError(
            f"{path}: checkpoint sidecar is not valid JSON; the file is corrupt."
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(
            f"{path}: not a ser checkpoint (foreign file); point --model at a `ser train` run folder."
        )
    _check_sidecar(meta, path)
    return meta


# Sidecar fields and the JSON type each must have.
SIDECAR_FIELDS = {
    "model": str,
    "model_config": dict,
    "feature_config": dict,
    "labels": list,
    "train_config": dict,
}
TRAIN_CONFIG_FIELDS = ("normalization", "max_eval_frames", "batch_size")  # what inference reads


def _check_sidecar(meta: dict, path: Path) -> None:
    """Every field inference relies on, present and of the right type; ModelError otherwise."""
    from ser_cli.features.normalization import NORMALIZATIONS
    from ser_cli.models.metadata import check_sidecar_values, show

    def corrupt(what: str) -> ModelError:
        return ModelError(f"{path}: {what}; the checkpoint is corrupt or from another tool.")

    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise corrupt(f"format_version is {show(version)}, not a version number")
    if version > FORMAT_VERSION:
        raise ModelError(
            f"{path}: written by a newer ser (checkpoint format {version}; this ser reads up to "
            f"{FORMAT_VERSION}); upgrade ser-cli."
        )
    for key, kind in SIDECAR_FIELDS.items():
        if key not in meta:
            raise corrupt(f"the sidecar lacks '{key}'")
        if not isinstance(meta[key], kind):
            raise corrupt(f"'{key}' is {_json_kind(meta[key])}, not {_json_kind(kind())}")
    labels = meta["labels"]
    if len(labels) < 2 or not all(isinstance(x, str) and x for x in labels):
        raise corrupt("'labels' must list at least two emotion names")
    if len(set(labels)) != len(labels):
        raise corrupt("'labels' lists an emotion twice")
    n_classes = meta["model_config"].get("n_classes")
    if n_classes is not None and n_classes != len(labels):
        raise corrupt(f"{len(labels)} labels for a model with {n_classes} outputs")
    tc = meta["train_config"]
    for key in TRAIN_CONFIG_FIELDS:
        if key not in tc:
            raise corrupt(f"'train_config' lacks '{key}'")
    if tc["normalization"] not in NORMALIZATIONS:
        raise corrupt(f"train_config.normalization is {show(tc['normalization'])}")
    for key in ("max_eval_frames", "batch_size"):
        if not isinstance(tc[key], int) or isinstance(tc[key], bool) or tc[key] < 1:
            raise corrupt(f"train_config.{key} is {show(tc[key])}, not a positive integer")
    check_sidecar_values(meta, path)  # labels, temperature, frame limits: one validator


def _json_kind(value) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "text", bool: "true/false"}.get(
        type(value), "a number"
    )


def load_weights(run_dir: str | Path, tag: str, model, device: str = "cpu"):
    """Load ``<tag>.safetensors`` into ``model`` (strictly); returns the global feature Stats
    stored beside the weights. The one place weights are read, for inference and resume alike."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from ser_cli.features.normalization import Stats

    weights = Path(run_dir) / f"{tag}.safetensors"
    try:
        tensors = load_file(str(weights), device=device)
    except (FileNotFoundError, SafetensorError, OSError) as exc:
        raise ModelError(
            f"{weights}: cannot read the weights ({exc}); the checkpoint is missing or corrupt."
        ) from None
    try:
        stats = Stats(tensors.pop(NORM_MEAN).cpu().numpy(), tensors.pop(NORM_STD).cpu().numpy())
        model.load_state_dict(tensors, strict=True)
    except (KeyError, RuntimeError) as exc:
        raise ModelError(
            f"{weights}: weights do not match the sidecar's model ({str(exc).splitlines()[0]})."
        ) from None
    return stats


def load_checkpoint(run_dir: str | Path, tag: str = "best", device: str = "cpu") -> Checkpoint:
    """Rebuild the model from its sidecar and load its safetensors weights."""
    from ser_cli.features.extract import FeatureConfig
    from ser_cli.models import build_model, saved_model_config
    from ser_cli.models.ensemble import Ensemble, member_models, members_of

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ModelError(
            f"{run_dir}: model folder not found; give a `ser train` run folder or 'default'."
        )
    meta = read_sidecar(run_dir, tag)
    from ser_cli.errors import ConfigError

    try:
        feature_config = FeatureConfig.from_dict(meta["feature_config"])
    except ConfigError as exc:
        raise ModelError(
            f"{run_dir}: the checkpoint's feature settings are invalid ({exc})"
        ) from None
    expected = meta["model_config"].get("n_features")
    if feature_config.dims is not None and expected is not None and feature_config.dims != expected:
        raise ModelError(
            f"{run_dir}: the feature configuration ({feature_config.kind}, {feature_config.dims} dims) does not match "
            f"the checkpoint's model ({expected} input dims); the sidecar was edited or comes from another run."
        )
    members = members_of(meta, run_dir)
    try:
        # an ensemble (ser ensemble) averages several runs on one training set
        specs = member_models(meta, run_dir) if members else [(meta["model"], meta["model_config"])]
        built = [build_model(name, saved_model_config(name, cfg)) for name, cfg in specs]
        model = Ensemble(built) if members else built[0]
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(
            f"{run_dir}: the sidecar's model_config does not build a '{meta['model']}' "
            f"({str(exc).splitlines()[0]}); the checkpoint is corrupt or from another tool."
        ) from None
    global_stats = load_weights(run_dir, tag, model, device)
    from ser_cli.models.metadata import check_stats

    dims = feature_config.dims
    check_stats(global_stats.mean, global_stats.std, dims, run_dir / f"{tag}.safetensors")
    model.to(device).eval()
    return Checkpoint(
        model=model,
        meta=meta,
        labels=tuple(meta["labels"]),
        feature_config=feature_config,
        global_stats=global_stats,
        path=run_dir,
    )


def _flatten_optimizer(optimizer) -> dict:
    import torch

    flat = {}
    for index, state in optimizer.state_dict()["state"].items():
        for name, value in state.items():
            flat[f"{index}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    return flat


def restore_optimizer(optimizer, path: Path) -> None:
    """Load state written by save_checkpoint(optimizer=...) into ``optimizer``."""
    from safetensors.torch import load_file

    flat = load_file(str(path))
    state_dict = optimizer.state_dict()
    state: dict = {}
    for key, value in flat.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    state_dict["state"] = state
    optimizer.load_state_dict(state_dict)
