"""Where ser keeps its user data: one folder, one environment override."""

from __future__ import annotations

import os
from pathlib import Path

# Set SER_HOME to move everything ser writes outside a run directory (cache, models).
HOME_ENV = "SER_HOME"


def user_dir() -> Path:
    """The user folder: $SER_HOME, else ~/.cache/ser."""
    override = os.environ.get(HOME_ENV)
    return Path(override).expanduser() if override else Path.home() / ".cache" / "ser"


def cache_dir() -> Path:
    """Where computed features are cached, keyed by file and feature settings."""
    return user_dir() / "features"


BUNDLED_ONNX = "model.onnx"  # the bundled model's export, beside its run folder files


def bundled_model_dir() -> Path:
    """The default model that ships inside the package."""
    return Path(__file__).parent / "assets" / "default_model"
