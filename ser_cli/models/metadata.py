"""One validator for what a model file says about itself, whatever kind of file it is.

A run's sidecar, an ensemble's members, an ONNX file's metadata and a transformers
classifier's ``config.json`` all describe labels, a softmax temperature, normalisation
statistics and frame limits. Each is checked here against the weights (the label count must
equal the output size) before any audio is read: no duplicate labels, a finite temperature
above 0, finite statistics with a standard deviation above 0, frame limits of at least 1.
Every error is one ModelError line that names the model file. Functions per kind:
:func:`check_sidecar_values`, :func:`check_onnx`, :func:`check_hub`.
"""

from __future__ import annotations

import math

import numpy as np

from ser_cli.errors import ModelError

MAX_SHOWN = 40  # characters of a bad value quoted in an error


def show(value) -> str:
    """A value cut to a few dozen characters, for an error line."""
    import reprlib

    from ser_cli.validation import _short_repr

    short = _short_repr(reprlib.Repr(), MAX_SHOWN)
    text = short.repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def _bad(where, what: str) -> ModelError:
    return ModelError(f"{where}: {what}; the model file is corrupt or from another tool.")


def check_labels(labels, n_outputs: int | None, where) -> tuple[str, ...]:
    """Labels as a tuple: at least two distinct non-empty names, one per model output."""
    if not isinstance(labels, (list, tuple)) or not all(isinstance(x, str) and x for x in labels):
        raise _bad(where, f"its labels are {show(labels)}, not a list of emotion names")
    if len(labels) < 2:
        raise _bad(where, f"it lists {len(labels)} label(s); a classifier needs at least 2")
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise _bad(where, f"it lists the label(s) {show(', '.join(twice))} twice")
    if n_outputs is not None and n_outputs != len(labels):
        raise _bad(where, f"{len(labels)} labels for a model with {n_outputs} outputs")
    return tuple(labels)


def check_temperature(value, where) -> float:
    """The softmax temperature: a finite number above 0 (1 = uncalibrated)."""
    number = _number(value)
    if number is None or not math.isfinite(number) or number <= 0:
        raise _bad(where, f"its temperature is {show(value)}, not a number above 0")
    return number


def check_frames(value, key: str, where) -> int:
    """A frame limit (max_eval_frames, min_frames): a whole number of at least 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        number = _number(value)
        if number is None or not float(number).is_integer() or number < 1 or number > 1e9:
            raise _bad(where, f"{key} is {show(value)}, not a whole number of frames >= 1")
        value = int(number)
    return int(value)


def check_stats(mean, std, dims: int | None, where) -> tuple[np.ndarray, np.ndarray]:
    """Normalisation statistics as float32 arrays: finite, one per feature, std above 0."""
    arrays = []
    for name, value in (("mean", mean), ("std", std)):
        try:
            with np.errstate(over="ignore"):  # a value past float32 becomes inf: refused below
                array = np.asarray(value, dtype=np.float32).reshape(-1)
        except (TypeError, ValueError):
            raise _bad(
                where, f"its feature {name} is {show(value)}, not a list of numbers"
            ) from None
        if dims is not None and array.size != dims:
            raise _bad(where, f"its feature {name} has {array.size} values for {dims} features")
        if not np.all(np.isfinite(array)):
            raise _bad(where, f"its feature {name} holds values that are not finite")
        arrays.append(array)
    if np.any(arrays[1] <= 0):
        raise _bad(where, "its feature std has values of 0 or below (division by zero)")
    return arrays[0], arrays[1]


def check_sidecar_values(meta: dict, where) -> None:
    """The values of a run's (or an ensemble's) sidecar that its field types do not cover."""
    check_labels(meta.get("labels"), meta.get("model_config", {}).get("n_classes"), where)
    calibration = meta.get("calibration", {})
    if not isinstance(calibration, dict):
        raise _bad(where, f"'calibration' is {show(calibration)}, not an object")
    check_temperature(calibration.get("temperature", 1.0), where)
    tc = meta["train_config"]
    check_frames(tc.get("max_eval_frames"), "train_config.max_eval_frames", where)
    check_frames(tc.get("batch_size"), "train_config.batch_size", where)


def check_onnx(meta: dict, n_outputs: int | None, n_inputs: int | None, where) -> dict:
    """An ONNX file's ser metadata, checked against its graph's output and input sizes;
    returns it with numbers coerced (temperature, frame limits)."""
    from ser_cli.errors import ConfigError
    from ser_cli.features.extract import FeatureConfig

    meta = dict(meta)
    meta["labels"] = check_labels(meta["labels"], n_outputs, where)
    meta["temperature"] = check_temperature(meta.get("temperature", 1.0), where)
    meta["max_eval_frames"] = check_frames(meta["max_eval_frames"], "max_eval_frames", where)
    meta["min_frames"] = check_frames(meta.get("min_frames", 1), "min_frames", where)
    try:
        features = FeatureConfig.from_dict(meta["feature_config"])
    except ConfigError as exc:
        raise _bad(where, f"its feature settings are invalid ({exc})") from None
    dims = features.dims
    if n_inputs is not None and dims is not None and n_inputs != dims:
        raise _bad(where, f"its features have {dims} dims but the graph reads {n_inputs}")
    meta["global_mean"], meta["global_std"] = check_stats(
        meta["global_mean"], meta["global_std"], dims, where
    )
    if meta.get("normalization") not in ("speaker", "global"):
        raise _bad(where, f"normalization is {show(meta.get('normalization'))}")
    return meta


def check_hub(id2label, n_outputs: int | None, where) -> list[str]:
    """A transformers classifier's ``id2label`` as a list of names in output order."""
    if not isinstance(id2label, dict) or not id2label:
        raise _bad(where, f"its config.json id2label is {show(id2label)}, not a list of labels")
    try:
        ids = sorted(int(i) for i in id2label)
    except (TypeError, ValueError):
        raise _bad(where, f"its id2label keys {show(list(id2label))} are not numbers") from None
    if ids != list(range(len(ids))):
        raise _bad(where, f"its id2label numbers {show(ids)} are not 0..{len(ids) - 1}")
    names = [id2label[i] if i in id2label else id2label[str(i)] for i in ids]
    return list(check_labels(names, n_outputs, where))


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
