"""onnxruntime sessions on the CPU, with each model's optimised graph kept per machine.

Used by every torch-free path: exported models (:mod:`ser_cli.inference.onnx_predictor`) and
Silero's speech detector (:mod:`ser_cli.audio.vad`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ser_cli.errors import ModelError


def onnx_session(path: Path, threads: int | None = None):
    """An onnxruntime session of ``path`` on the CPU.

    onnxruntime optimises a graph each time it loads it, which is most of a cold `ser predict`'s
    session time. The optimised graph is kept once per machine (:func:`optimized_copy`, ORT
    format) and later sessions load it with nothing left to optimise; a copy that will not load
    is rebuilt, and a cache that cannot be written costs only the time.
    """
    if not path.is_file():
        raise ModelError(
            f"{path}: ONNX model not found; export one with `ser export MODEL --out {path.name}`."
        )
    try:
        import onnxruntime as ort
    except ImportError:
        raise ModelError(
            "running .onnx models needs onnxruntime, a dependency of ser-cli: pip install onnxruntime."
        ) from None
    import os

    def options():
        opts = ort.SessionOptions()
        opts.log_severity_level = 3  # errors only: its warnings go straight to the terminal
        # onnxruntime ignores OMP_NUM_THREADS; honour it, as torch does (Ray sets it per actor)
        env = os.environ.get("OMP_NUM_THREADS", "")
        opts.intra_op_num_threads = (
            threads if threads is not None else int(env) if env.isdigit() else 0
        )
        return opts

    providers = ["CPUExecutionProvider"]
    cached = optimized_copy(path, ort.__version__)
    if cached is not None and cached.is_file():
        opts = options()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(cached), opts, providers=providers)
        except Exception:  # a damaged or foreign copy: optimise the model again below
            pass
    opts, partial = options(), None
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_name(f"{cached.stem}.{os.getpid()}.partial")
            opts.optimized_model_filepath = str(partial)
            opts.add_session_config_entry("session.save_model_format", "ORT")
        except OSError:
            partial = None
    try:
        session = ort.InferenceSession(str(path), opts, providers=providers)
    except Exception as exc:  # onnxruntime raises its own types for foreign or corrupt files
        if partial is not None:
            partial.unlink(missing_ok=True)
        raise ModelError(
            f"{path}: not a readable ONNX model ({str(exc).strip().splitlines()[0][:120]}); "
            "re-export it with `ser export`."
        ) from None
    if partial is not None:
        try:  # this file's copies from before it changed go; the new one appears whole
            for old in cached.parent.glob(f"{cached.name.split('-')[0]}-*.ort"):
                old.unlink(missing_ok=True)
            os.replace(partial, cached)
        except OSError:
            partial.unlink(missing_ok=True)
    return session


def optimized_copy(path: Path, runtime: str) -> Path | None:
    """Where this machine keeps onnxruntime's optimised graph of the model file ``path``:
    $SER_HOME/onnx/PATH-VERSION.ort, PATH a hash of the file's absolute path and VERSION one of
    its size and modification time, onnxruntime's version and the CPU (the graph is optimised
    for it). None when the file cannot be read."""
    import hashlib
    import platform

    from ser_cli.paths import user_dir

    try:
        stat = path.stat()
        cpu = _cpu()
    except OSError:
        return None

    def digest(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    version = f"{stat.st_size}|{stat.st_mtime_ns}|{runtime}|{platform.machine()}|{cpu}"
    return user_dir() / "onnx" / f"{digest(str(path.resolve()))}-{digest(version)}.ort"


@cache
def _cpu() -> str:
    """The CPU the optimised graphs are for, read once per process (a command opens the speech
    detector's session and the model's): on Linux the model name and instruction sets, which
    decide onnxruntime's kernels."""
    import platform

    cpu = platform.processor()
    info = Path("/proc/cpuinfo")
    if info.is_file():
        first: dict[str, str] = {}
        for line in info.read_text(errors="replace").splitlines():
            key = line.split(":")[0].strip()
            if key in ("model name", "flags"):
                first.setdefault(key, line)
        cpu += "".join(first.values())
    return cpu
