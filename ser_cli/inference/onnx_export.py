"""Export a trained model to a self-describing ONNX file.

The graph takes ``x`` (batch, frames, dims) float32 normalised features and ``mask``
(batch, frames) bool, both with dynamic batch and frame axes, and returns ``logits``
(batch, classes). Everything else a predictor needs travels in the file's
``metadata_props`` as JSON strings (keys in :data:`META_KEYS`): the label list, the feature
settings, the global normalisation statistics, the longest clip the model sees, the model's
name and the ser version — so :class:`~ser_cli.inference.onnx_predictor.OnnxPredictor` runs
the file with nothing beside it, and without torch.

torch's dynamo exporter (``torch.export``) is tried first; models it cannot decompose
(the GRU of ``base``) fall back to the TorchScript exporter. Either way the exported graph
is checked against the torch model with onnxruntime on two input shapes before the file is
written, so a graph that baked in a shape is refused instead of shipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ser_cli.errors import ModelError
from ser_cli.inference.onnx_predictor import OUTPUT, softmax

FORMAT = "ser-onnx"  # marks an ONNX file as one of ours (metadata key "ser.format")
FORMAT_VERSION = 1
OPSET = 18  # ONNX opset: supported by onnxruntime >= 1.14 and by both torch exporters
INPUTS = ("x", "mask")
EXPORT_FRAMES = 200  # frames in the example input that traces the graph (2 s)
CHECK_SHAPES = ((1, 57), (3, 333))  # (batch, frames) the exported graph is verified on
CHECK_TOLERANCE = 1e-4  # largest probability difference between ONNX and torch accepted
# metadata_props keys; values are JSON strings
META_KEYS = (
    "ser.format",
    "ser.format_version",
    "ser.ser_version",
    "ser.model",
    "ser.labels",
    "ser.feature_config",
    "ser.normalization",
    "ser.global_mean",
    "ser.global_std",
    "ser.max_eval_frames",
    "ser.min_frames",
    "ser.temperature",
    "ser.checkpoint",  # the whole checkpoint sidecar: config, training data, metrics
)
UNEXPORTABLE = {
    "ssl": "its features come from a pretrained speech encoder that would have to be exported too",
    "classic": "its utterance statistics (per-clip quantiles in a Python loop) do not trace to ONNX",
}


class ExportError(ModelError):
    """A model cannot be exported, or its exported graph does not match the torch model."""


@dataclass
class ExportResult:
    path: Path
    model: str  # registry name of the exported model
    exporter: str  # "dynamo" or "torchscript"
    max_difference: float  # largest probability difference ONNX vs torch on the check inputs
    bytes: int


def export_onnx(model: str | Path, out: str | Path) -> ExportResult:
    """Export the bundled model ('default') or a run folder's best checkpoint to ``out``.

    The file is written atomically, and only after onnxruntime reproduced the torch
    model's probabilities within CHECK_TOLERANCE.
    """
    from ser_cli.atomic import atomic_path
    from ser_cli.inference.load import ONNX_SUFFIX, resolve_model_dir
    from ser_cli.models.checkpoint import load_checkpoint, read_sidecar
    from ser_cli.outputs import Output, check_outputs

    _require_onnx()
    run_dir = resolve_model_dir(model)
    out = Path(out)
    if out.suffix.lower() != ONNX_SUFFIX:  # `--model` knows an ONNX file by its suffix
        raise ExportError(f"{out}: an ONNX export must end in {ONNX_SUFFIX}; name it so.")
    check_outputs([Output(out, "--out", suffixes=(ONNX_SUFFIX,))], [run_dir])
    name = read_sidecar(run_dir).get("model")
    if name in UNEXPORTABLE:
        raise ExportError(
            f"model '{name}' cannot be exported to ONNX: {UNEXPORTABLE[name]}; "
            "export an enhanced, base, ultimate or simplified run instead."
        )
    checkpoint = load_checkpoint(run_dir, "best", device="cpu")
    if checkpoint.feature_config.voice:  # the torch-free ONNX path computes log-mel only
        raise ExportError(
            f"{run_dir}: reads voice features (a pretrained speaker encoder run with torch), "
            "which an ONNX file cannot compute; predict with the run folder instead."
        )
    proto, exporter, difference = _export_graph(checkpoint.model, checkpoint.feature_config.dims)
    _set_metadata(proto, checkpoint)
    import onnx

    with atomic_path(out) as tmp:
        onnx.save_model(proto, str(tmp))  # weights inline: one file, nothing beside it
    return ExportResult(out, name, exporter, difference, out.stat().st_size)


def read_metadata(proto_or_props) -> dict:
    """The ser metadata of an ONNX model (a ModelProto or onnxruntime's custom map), decoded."""
    props = (
        {p.key: p.value for p in proto_or_props.metadata_props}
        if hasattr(proto_or_props, "metadata_props")
        else dict(proto_or_props)
    )
    return {k[len("ser.") :]: json.loads(v) for k, v in props.items() if k.startswith("ser.")}


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ExportError(
            "ONNX export needs onnx and onnxruntime: pip install 'ser-cli[onnx]'."
        ) from None


def _example(batch: int, frames: int, dims: int, seed: int = 0):
    """A random normalised feature batch whose last clip is half padding."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, frames, dims, generator=gen)
    mask = torch.ones(batch, frames, dtype=torch.bool)
    if batch > 1:
        mask[-1, frames // 2 :] = False
    return x, mask


def _export_graph(model, dims: int):
    """(ModelProto, exporter name, max probability difference) from the first exporter whose
    graph reproduces the torch model: dynamo (maintained), then TorchScript (handles the GRU
    dynamo cannot decompose)."""
    import logging
    import warnings

    failures = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        for name, export in (("dynamo", _dynamo), ("torchscript", _torchscript)):
            try:
                proto = export(model, _example(2, EXPORT_FRAMES, dims))
                return proto, name, _check(proto, model, dims)
            except Exception as exc:  # exporters raise many types; try the next one
                failures.append(f"{name}: {_first_line(exc)}")
    raise ExportError(f"torch could not export this model to ONNX ({'; '.join(failures)}).")


def _dynamo(model, args):
    import torch

    batch, frames = torch.export.Dim("batch"), torch.export.Dim("frames")
    program = torch.onnx.export(
        model,
        args,
        input_names=list(INPUTS),
        output_names=[OUTPUT],
        opset_version=OPSET,
        dynamic_shapes={"x": {0: batch, 1: frames}, "mask": {0: batch, 1: frames}},
        dynamo=True,
        verbose=False,
    )
    return program.model_proto


def _torchscript(model, args):
    import tempfile

    import onnx
    import torch

    axes = {0: "batch", 1: "frames"}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        torch.onnx.export(
            model,
            args,
            str(path),
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            opset_version=OPSET,
            dynamic_axes={"x": axes, "mask": axes, OUTPUT: {0: "batch"}},
            dynamo=False,
        )
        return onnx.load_model(str(path))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def _set_metadata(proto, checkpoint) -> None:
    from ser_cli.__version__ import __version__

    meta = checkpoint.meta
    values = {
        "ser.format": FORMAT,
        "ser.format_version": FORMAT_VERSION,
        "ser.ser_version": __version__,
        "ser.model": meta["model"],
        "ser.labels": list(checkpoint.labels),
        "ser.feature_config": checkpoint.feature_config.to_dict(),
        "ser.normalization": checkpoint.normalization,
        "ser.global_mean": np.asarray(checkpoint.global_stats.mean, dtype=float).tolist(),
        "ser.global_std": np.asarray(checkpoint.global_stats.std, dtype=float).tolist(),
        "ser.max_eval_frames": int(meta["train_config"]["max_eval_frames"]),
        "ser.min_frames": int(getattr(checkpoint.model, "factor", 1)),  # CNNs pool time
        "ser.temperature": checkpoint.temperature,  # calibration: logits / T before softmax
        "ser.checkpoint": meta,
    }
    del proto.metadata_props[:]
    for key, value in values.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    proto.producer_name = "ser-cli"
    proto.producer_version = __version__


def _check(proto, model, dims: int) -> float:
    """Largest probability difference ONNX vs torch over CHECK_SHAPES; raises past tolerance."""
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    worst = 0.0
    for seed, (batch, frames) in enumerate(CHECK_SHAPES, start=1):
        x, mask = _example(batch, frames, dims, seed)
        with torch.no_grad():
            expected = torch.softmax(model(x, mask).float(), dim=-1).numpy()
        try:
            logits = session.run([OUTPUT], {"x": x.numpy(), "mask": mask.numpy()})[0]
        except Exception as exc:  # onnxruntime's Fail/InvalidArgument: a shape was baked in
            raise ExportError(
                f"the graph fails on {batch} clip(s) of {frames} frames ({_first_line(exc)})"
            ) from None
        worst = max(worst, float(np.abs(softmax(logits) - expected).max()))
    if worst > CHECK_TOLERANCE:
        raise ExportError(
            f"the graph differs from the torch model by {worst:.2e} in probability "
            f"(more than {CHECK_TOLERANCE:g})"
        )
    return worst
