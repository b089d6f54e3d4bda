"""Export a trained model to a self-describing ONNX file.

The graph takes ``x`` (batch, frames, dims) float32 normalised features and ``mask``
(batch, frames) bool, both with dynamic batch and frame axes, and returns ``logits``
(batch, classes). Everything else a predictor needs travels in the file's
``metadata_props`` as JSON strings (keys in :data:`META_KEYS`): the label list, the feature
settings, the global normalisation statistics, the longest clip the model sees, the model's
name and the ser version — so :class:`~ser_cli.inference.onnx_predictor.OnnxPredictor` runs
the file with nothing beside it, and without torch.

A model that reads voice features (``features.voice``) carries resemblyzer's speaker encoder
in the same graph: a second input ``speaker_encoder/mels`` (partials, frames, 40) of mel
slices, dynamic in partials and frames, and a second output ``speaker_encoder/partials``
(partials, 256) of unit-length partial embeddings, disjoint from the classifier (the metadata
key ``ser.speaker_encoder`` names them; files without it are read as before). onnxruntime
asks for every input on each run, so each side is fed a one-row stand-in while the other is
computed; the predictor does the rest of the embedding in numpy
(:mod:`ser_cli.features.numpy_voice`).

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
from ser_cli.inference.onnx_predictor import (
    OUTPUT,
    SPEAKER_PREFIX,
    classifier_stand_in,
    softmax,
    speaker_stand_in,
)

FORMAT = "ser-onnx"  # marks an ONNX file as one of ours (metadata key "ser.format")
FORMAT_VERSION = 1
OPSET = 18  # ONNX opset: supported by onnxruntime >= 1.14 and by both torch exporters
INPUTS = ("x", "mask")
EXPORT_FRAMES = 200  # frames in the example input that traces the graph (2 s)
CHECK_SHAPES = ((1, 57), (3, 333))  # (batch, frames) the exported graph is verified on
CHECK_TOLERANCE = 1e-4  # largest probability difference between ONNX and torch accepted
# the speaker encoder (features.voice) is checked on this many partials of 160 mel frames, to
# CHECK_TOLERANCE on each value of the unit-length partial embeddings
CHECK_PARTIALS = (1, 5)
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
    "ser.speaker_encoder",  # voice models only: the speaker encoder's input, output, origin
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
    speaker_encoder: str | None = None  # voice models: the encoder's exporter
    speaker_difference: float = 0.0  # largest embedding difference ONNX vs resemblyzer


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
    dims = checkpoint.feature_config.dims
    proto, exporter, difference = _export_graph(
        checkpoint.model,
        _example(2, EXPORT_FRAMES, dims),
        {name: {0: "batch", 1: "frames"} for name in INPUTS},
        {OUTPUT: {0: "batch"}},
        lambda session: _check(session, checkpoint.model, dims),
    )
    speaker = None
    speaker_exporter, speaker_difference = None, 0.0
    if checkpoint.feature_config.voice:  # resemblyzer's encoder joins the classifier's graph
        proto, speaker, speaker_exporter, speaker_difference = _add_speaker_encoder(
            proto, checkpoint.model, dims
        )
    _set_metadata(proto, checkpoint, speaker)
    import onnx

    with atomic_path(out) as tmp:
        onnx.save_model(proto, str(tmp))  # weights inline: one file, nothing beside it
    return ExportResult(
        out,
        name,
        exporter,
        difference,
        out.stat().st_size,
        speaker_exporter,
        speaker_difference,
    )


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


def _export_graph(model, example: tuple, inputs: dict, outputs: dict, check):
    """(ModelProto, exporter name, check's difference) from the first exporter whose graph
    passes ``check`` (given an onnxruntime session): dynamo (maintained), then TorchScript
    (handles the GRU dynamo cannot decompose). ``inputs`` and ``outputs`` map each name, in
    order, to its dynamic axes ({axis: name})."""
    import logging
    import warnings

    failures = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        for name, export in (("dynamo", _dynamo), ("torchscript", _torchscript)):
            try:
                proto = export(model, example, inputs, outputs)
                return proto, name, check(_session(proto))
            except Exception as exc:  # exporters raise many types; try the next one
                failures.append(f"{name}: {_first_line(exc)}")
    raise ExportError(f"torch could not export this model to ONNX ({'; '.join(failures)}).")


def _dynamo(model, args, inputs: dict, outputs: dict):
    import torch

    dims = {axis: torch.export.Dim(axis) for axes in inputs.values() for axis in axes.values()}
    program = torch.onnx.export(
        model,
        args,
        input_names=list(inputs),
        output_names=list(outputs),
        opset_version=OPSET,
        dynamic_shapes={k: {i: dims[a] for i, a in axes.items()} for k, axes in inputs.items()},
        dynamo=True,
        verbose=False,
    )
    return program.model_proto


def _torchscript(model, args, inputs: dict, outputs: dict):
    import tempfile

    import onnx
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        torch.onnx.export(
            model,
            args,
            str(path),
            input_names=list(inputs),
            output_names=list(outputs),
            opset_version=OPSET,
            dynamic_axes={**inputs, **outputs},
            dynamo=False,
        )
        return onnx.load_model(str(path))


def _session(proto):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _add_speaker_encoder(classifier, model, dims: int):
    """The classifier's graph with resemblyzer's speaker encoder beside it, both checked in
    the merged graph: (ModelProto, its ser.speaker_encoder metadata, the encoder's exporter,
    its largest difference from resemblyzer's torch encoder)."""
    from importlib.metadata import version

    from onnx import compose

    from ser_cli.features.voice import MEL_BANDS, _encoder

    encoder = _encoder()[0].eval()
    mels, partials = "mels", "partials"
    proto, exporter, _ = _export_graph(
        encoder,
        (_mel_example(2, 0),),
        {mels: {0: "partials", 1: "frames"}},
        {partials: {0: "partials"}},
        lambda session: _check_speaker(session, encoder, {}, mels, partials),
    )
    proto = compose.add_prefix(proto, SPEAKER_PREFIX)  # no name shared with the classifier
    ir = max(classifier.ir_version, proto.ir_version)
    classifier.ir_version = proto.ir_version = ir
    try:
        merged = compose.merge_models(classifier, proto, io_map=[])
    except Exception as exc:  # onnx raises ValueError/checker errors on clashing graphs
        raise ExportError(
            f"the speaker encoder could not join the model's graph ({_first_line(exc)})"
        ) from None
    speaker = {
        "input": SPEAKER_PREFIX + mels,
        "output": SPEAKER_PREFIX + partials,
        "bands": MEL_BANDS,
        "source": f"resemblyzer {version('resemblyzer')}",
    }
    session = _session(merged)  # the file as shipped: both sides, each with the other idle
    _check(session, model, dims, speaker_stand_in(speaker))
    idle = classifier_stand_in(dims, int(getattr(model, "factor", 1)))
    difference = _check_speaker(session, encoder, idle, speaker["input"], speaker["output"])
    return merged, speaker, exporter, difference


def _mel_example(partials: int, seed: int):
    """Mel power slices (partials, 160, 40): non-negative, over a wide range as speech's are."""
    import torch

    from ser_cli.features.numpy_voice import PARTIAL_FRAMES
    from ser_cli.features.voice import MEL_BANDS

    gen = torch.Generator().manual_seed(seed)
    return torch.randn(partials, PARTIAL_FRAMES, MEL_BANDS, generator=gen).square() * 4


def _check_speaker(session, encoder, idle: dict, mels: str, partials: str) -> float:
    """Largest difference ONNX vs resemblyzer's encoder over CHECK_PARTIALS; raises past
    tolerance."""
    import torch

    worst = 0.0
    for seed, count in enumerate(CHECK_PARTIALS, start=1):
        example = _mel_example(count, seed)
        with torch.no_grad():
            expected = encoder(example).numpy()
        try:
            got = session.run([partials], {mels: example.numpy(), **idle})[0]
        except Exception as exc:  # onnxruntime's Fail/InvalidArgument: a shape was baked in
            raise ExportError(
                f"the speaker encoder fails on {count} partial(s) ({_first_line(exc)})"
            ) from None
        worst = max(worst, float(np.abs(got - expected).max()))
    if worst > CHECK_TOLERANCE:
        raise ExportError(
            f"the speaker encoder differs from resemblyzer's by {worst:.2e} "
            f"(more than {CHECK_TOLERANCE:g})"
        )
    return worst


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def _set_metadata(proto, checkpoint, speaker: dict | None = None) -> None:
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
    if speaker is not None:
        values["ser.speaker_encoder"] = speaker
    del proto.metadata_props[:]
    for key, value in values.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    proto.producer_name = "ser-cli"
    proto.producer_version = __version__


def _check(session, model, dims: int, idle: dict | None = None) -> float:
    """Largest probability difference ONNX vs torch over CHECK_SHAPES; raises past tolerance.
    ``idle``: stand-ins for the speaker encoder's input, in a voice model's merged graph."""
    import torch

    worst = 0.0
    for seed, (batch, frames) in enumerate(CHECK_SHAPES, start=1):
        x, mask = _example(batch, frames, dims, seed)
        with torch.no_grad():
            expected = torch.softmax(model(x, mask).float(), dim=-1).numpy()
        try:
            feed = {"x": x.numpy(), "mask": mask.numpy(), **(idle or {})}
            logits = session.run([OUTPUT], feed)[0]
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
