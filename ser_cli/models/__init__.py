"""The model registry: a plain dict of names, plus helpers to list and build them.

Every model maps (batch, time, features) frames and a (batch, time) validity mask to
(batch, classes) logits — the ``ssl`` head takes (batch, layers, time, dims) instead — so one
trainer, one evaluator and one predictor serve them all.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ser_cli.errors import ModelError


@dataclass(frozen=True)
class ModelSpec:
    """What the registry knows about a model before importing torch."""

    module: str  # ser_cli.models submodule holding the classes
    model_class: str  # the model class, or a function of the config that builds one
    config_class: str
    summary: str  # one line for `ser models`: what it is
    features: str  # feature kind it reads: logmel | ssl
    fitter: str = "gradient"  # "gradient" (the torch trainer) or "sklearn" (closed-form fit)
    why: str = ""  # one line for `ser models`: when to pick it


MODELS: dict[str, ModelSpec] = {
    "base": ModelSpec(
        "cnn",
        "BaseCNNRNN",
        "BaseConfig",
        "2-D CNN front end + bidirectional GRU",
        "logmel",
        why="the reference project's first model; kept for comparison, not for use",
    ),
    "enhanced": ModelSpec(
        "cnn",
        "EnhancedCNN",
        "EnhancedConfig",
        "deeper residual 2-D CNN + attentive statistics pooling",
        "logmel",
        why="recommended: the best measured accuracy, and the bundled default model",
    ),
    "ultimate": ModelSpec(
        "transformer",
        "UltimateTransformer",
        "UltimateConfig",
        "conv subsampler + 6-layer transformer + attentive pooling",
        "logmel",
        why="2.8M parameters: more than 1,200 acted clips can train; for larger corpora",
    ),
    "simplified": ModelSpec(
        "transformer",
        "SimplifiedTransformer",
        "SimplifiedConfig",
        "4 transformer layers, 8 heads, 256 dims, batch norm, residual",
        "logmel",
        why="the reference project's transformer, as its users know it",
    ),
    "ssl": ModelSpec(
        "ssl",
        "build_ssl_model",
        "SSLHeadConfig",
        "pretrained speech encoder (frozen or fine-tuned) + weighted layer sum + attentive pooling",
        "ssl",
        why="transfer from a pretrained encoder; needs its download and more compute",
    ),
    "classic": ModelSpec(
        "classic",
        "ClassicLinear",
        "ClassicConfig",
        "utterance statistics + logistic regression (scikit-learn)",
        "logmel",
        "sklearn",
        why="the baseline every model must beat; fits in seconds",
    ),
}


RECOMMENDED = "enhanced"  # the best cross-validated model (docs/accuracy.md), bundled
BASELINE = "classic"  # the logistic-regression baseline the others are compared with


def available_models() -> list[str]:
    return list(MODELS)


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ModelError(f"unknown model '{name}'; choose one of: {', '.join(MODELS)}.")
    return MODELS[name]


def _classes(name: str):
    import importlib

    spec = get_spec(name)
    module = importlib.import_module(f"ser_cli.models.{spec.module}")
    return getattr(module, spec.model_class), getattr(module, spec.config_class)


def model_config(name: str, options: dict | None = None, **dims):
    """The model's config dataclass: its defaults, then ``options``, then the data's ``dims``."""
    _, config_cls = _classes(name)
    known = {f.name for f in dataclasses.fields(config_cls)}
    merged = {**(options or {}), **dims}
    for key, off in getattr(config_cls, "REMOVED", {}).items():  # measured and not kept
        if key in merged and merged.pop(key) != off:
            raise ModelError(
                f"model '{name}' option {key}={options[key]!r} was measured, not kept and removed "
                f"from ser; this ser builds only {key}={off!r}."
            )
    unknown = sorted(set(merged) - known)
    if unknown:
        raise ModelError(
            f"model '{name}' has no option(s) {', '.join(unknown)}; it has: {', '.join(sorted(known))}."
        )
    merged = {k: tuple(v) if isinstance(v, list) else v for k, v in merged.items()}
    for key in options or {}:
        # (a removed option, off, is gone from merged; a dimension set from the data is a
        # checkpoint's saved value, taken as it is)
        if key in merged and key not in dims and key not in FROM_FEATURES:
            merged[key] = _checked_option(config_cls, name, key, merged[key])
    return config_cls(**merged)


MAX_WIDTH = 4096  # largest layer width, count or depth a model option may ask for
# Model config fields that follow the feature settings, never a user's model option.
FROM_FEATURES = {"voice_dims": "features.voice"}


def _checked_option(config_cls, name: str, key: str, value):
    """A model option's value coerced to its field's type and range-checked: whole numbers
    (widths, layer counts) from 1 to MAX_WIDTH, dropout in [0, 1), text from the field's
    RULES when the model lists choices. ModelError (one line) otherwise."""
    import typing

    from ser_cli.validation import _hints, _show, coerce

    where = f"model_options.{key}"
    annotation = _hints(config_cls)[key]
    value = coerce(value, annotation, where, ModelError)
    numbers = value if isinstance(value, tuple) else (value,)
    ints = annotation is int or int in typing.get_args(annotation)
    if ints and any(not 1 <= v <= MAX_WIDTH for v in numbers):
        raise ModelError(f"{where}: each must be between 1 and {MAX_WIDTH}, got {_show(value)}.")
    if "dropout" in key and not 0 <= value < 1:
        raise ModelError(f"{where}: must be in [0, 1), got {_show(value)}.")
    rule = getattr(config_cls, "RULES", {}).get(key)
    complaint = rule(value) if rule is not None else None
    if complaint:
        raise ModelError(f"{where}: {complaint}, got {_show(value)}.")
    return value


def reads_voice(name: str) -> bool:
    """Whether a registered model has a head for features.voice (a ``voice_dims`` field)."""
    _, config_cls = _classes(name)
    return "voice_dims" in {f.name for f in dataclasses.fields(config_cls)}


def check_model_options(name: str, options: dict | None) -> None:
    """Fail now, in one line, unless ``options`` build a '{name}' model: each value's type and
    range, then the model itself built once on torch's meta device (choices such as a pooling
    mode, heads that divide the width) with the config's default dimensions."""
    for key, setting in FROM_FEATURES.items():
        if key in (options or {}):
            raise ModelError(f"model_options.{key} follows {setting}; set that instead.")
    cfg = model_config(name, options)
    if get_spec(name).features == "ssl":
        return  # building it may download a speech encoder; its config checks itself
    import torch

    try:
        with torch.device("meta"):  # shapes only: no memory, however wide the options
            build_model(name, cfg)
    except (ValueError, TypeError, KeyError, AssertionError, RuntimeError) as exc:
        from ser_cli.errors import short_reason

        raise ModelError(
            f"model_options do not build a '{name}' model ({short_reason(exc)})."
        ) from None


def saved_model_config(name: str, saved: dict):
    """The config of a model as a checkpoint saved it. Options added to a model after the
    checkpoint was written take the value that reproduces it (the config class's
    ``ADDED_LATER``), not today's default: an old `enhanced` run never normalised per clip."""
    _, config_cls = _classes(name)
    legacy = getattr(config_cls, "ADDED_LATER", {})
    return model_config(name, {**legacy, **saved})


def build_model(name: str, config):
    """Instantiate a registered model from its config dataclass."""
    model_cls, _ = _classes(name)
    return model_cls(config)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
