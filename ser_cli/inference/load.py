"""One loader: what a ``--model`` is, decided in one place, and the predictor that runs it.

``--model`` in predict, listen, eval, export and Ray takes:

- ``default`` (or nothing): the bundled model, a run folder shipped in the wheel with its
  ONNX export (``model.onnx``), which is what runs on the CPU: the same model without
  importing torch (tests/test_onnx.py checks the two agree);
- a `ser train` run folder, or a `ser ensemble` folder (same layout): kind ``run``;
- an exported ``.onnx`` file (runs without torch): kind ``onnx``;
- a transformers audio classifier, as a local ``save_pretrained`` folder or a hub id
  (``owner/name``) that names no local path: kind ``hub``.

:func:`model_kind` tells them apart; :func:`load_predictor` returns a
:class:`~ser_cli.inference.protocol.Predictor` for any of them.
"""

from __future__ import annotations

from pathlib import Path

from ser_cli.errors import ModelError
from ser_cli.inference.protocol import Predictor
from ser_cli.paths import BUNDLED_ONNX, bundled_model_dir

DEFAULT_MODEL = "default"  # the name of the bundled model
ONNX_SUFFIX = ".onnx"
KINDS = ("run", "onnx", "hub")  # what model_kind returns


def model_kind(name_or_path: str | Path | None) -> str:
    """'onnx', 'hub' or 'run' (the bundled model, a run or ensemble folder, or a path that
    does not exist: :func:`resolve_model_dir` then says so in one line)."""
    from ser_cli.inference.hub_predictor import is_hub_classifier

    if name_or_path is None:
        return "run"
    if str(name_or_path).lower().endswith(ONNX_SUFFIX):
        return "onnx"
    if is_hub_classifier(name_or_path):
        return "hub"
    return "run"


def _is_default(name: str | Path | None) -> bool:
    return name is None or str(name) == DEFAULT_MODEL


def bundled_onnx() -> Path | None:
    """The bundled model's ONNX export, when this install ships one."""
    path = bundled_model_dir() / BUNDLED_ONNX
    return path if path.exists() else None


def resolve_model_dir(name: str | Path | None) -> Path:
    """'default' (or None) -> the bundled model; otherwise a run folder that must exist."""
    if _is_default(name):
        path = bundled_model_dir()
        if not (path / "best.json").exists():
            raise ModelError(
                "the bundled default model is missing from this install; reinstall ser-cli or pass --model RUN_DIR."
            )
        return path
    path = Path(name).expanduser()
    if not path.exists():
        raise ModelError(
            f"model '{name}' not found: give a `ser train` run folder or '{DEFAULT_MODEL}'."
        )
    return path


def load_predictor(
    name_or_path: str | Path | None = DEFAULT_MODEL, device: str = "cpu"
) -> Predictor:
    """The predictor of any ``--model`` (see the module docstring); ModelError in one line
    when it names nothing loadable. An ``.onnx`` file loads without importing torch."""
    kind = model_kind(name_or_path)
    onnx = bundled_onnx() if device == "cpu" and _is_default(name_or_path) else None
    if kind == "onnx" or onnx is not None:
        from ser_cli.inference.onnx_predictor import OnnxPredictor

        return OnnxPredictor(onnx or name_or_path)
    if kind == "hub":
        from ser_cli.inference.hub_predictor import HubPredictor

        return HubPredictor(str(name_or_path), device)
    from ser_cli.inference.predictor import TorchPredictor
    from ser_cli.models.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(resolve_model_dir(name_or_path), "best", device=device)
    return TorchPredictor(checkpoint, device)
