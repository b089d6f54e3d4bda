"""What `ser models` shows: each registered model with its size at default settings."""

from __future__ import annotations

from ser_cli.labels import EMOTIONS
from ser_cli.models import MODELS, build_model, count_parameters, model_config


def describe_models() -> list[dict]:
    """One dict per model: name, summary, features it reads, parameters at 64 mel bands."""
    rows = []
    for name, spec in MODELS.items():
        cfg = model_config(name, n_classes=len(EMOTIONS))
        rows.append(
            {
                "name": name,
                "summary": spec.summary,
                "features": spec.features,
                "fitter": spec.fitter,
                "parameters": count_parameters(build_model(name, cfg)),
            }
        )
    return rows
