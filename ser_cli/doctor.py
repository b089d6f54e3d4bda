"""`ser doctor`: check the environment ser runs in and say what to fix.

Each check is a small probe that returns what it found; :func:`run_checks` gives it a name
and says whether training or prediction needs it. A probe that raises does not stop the
others: its check fails with the exception's message. Version floors are read from this
package's own metadata, so pyproject.toml stays the one place they are written.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from ser_cli import paths
from ser_cli.errors import short_reason
from ser_cli.quiet import quiet_c_stderr

PASS, WARN, FAIL = "pass", "warn", "fail"
STATUSES = (PASS, WARN, FAIL)

DISTRIBUTION = "ser-cli"  # this package's name on PyPI, where its requirements are recorded
MIN_FREE_DISK = 2 * 1024**3  # bytes: room for a feature cache and a few checkpoints
PROBE_SECONDS = 0.1  # length of the tiny test clips written and resampled
PROBE_RATE = 8_000  # Hz: the rate the torchaudio probe resamples to

# (distribution, import name, required, extra that installs it): every third-party package
# ser_cli imports (a test keeps this list, the imports and pyproject.toml in step; PyAudio,
# the 'mic' extra, has its own microphone check). Version floors come from the package
# metadata; the import name is only looked up, not imported, to keep this fast.
PACKAGES = (
    ("torch", "torch", True, None),
    ("torchaudio", "torchaudio", True, None),
    ("transformers", "transformers", True, None),
    ("huggingface-hub", "huggingface_hub", True, None),
    ("soundfile", "soundfile", True, None),
    ("soxr", "soxr", True, None),
    ("numpy", "numpy", True, None),
    ("scikit-learn", "sklearn", True, None),
    ("scipy", "scipy", True, None),
    ("silero-vad", "silero_vad", True, None),
    ("resemblyzer", "resemblyzer", True, None),
    ("setuptools", "pkg_resources", True, None),  # resemblyzer's webrtcvad imports it
    ("webrtcvad", "_webrtcvad", True, None),  # the torch-free voice embedding's trimming
    ("threadpoolctl", "threadpoolctl", True, None),  # listen: numpy's BLAS threads
    ("safetensors", "safetensors", True, None),
    ("pyyaml", "yaml", True, None),
    ("matplotlib", "matplotlib", True, None),
    ("packaging", "packaging", True, None),
    ("typer", "typer", True, None),
    ("rich", "rich", True, None),
    ("onnx", "onnx", False, "onnx"),
    ("onnxruntime", "onnxruntime", True, None),  # the bundled model's ONNX export
    ("ray", "ray", False, "ray"),
    ("pyarrow", "pyarrow", False, "ray"),
)

# (format, subtype, suffix): the containers ser reads in practice. WAV is the one it needs.
SOUND_FORMATS = (
    ("WAV", "PCM_16", ".wav"),
    ("FLAC", "PCM_16", ".flac"),
    ("OGG", "VORBIS", ".ogg"),
    ("MP3", "MPEG_LAYER_III", ".mp3"),
)
MP3_LIBSNDFILE = (1, 1)  # libsndfile reads and writes MP3 from this release on

MIC_FIX = "pip install 'ser-cli[mic]' (PortAudio first: apt-get install portaudio19-dev)"
HF_CACHE_VARS = ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME")
HF_OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
TRUTHY = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str  # short label, e.g. "torch" or "audio formats"
    status: str  # one of STATUSES
    detail: str  # what was found
    fix: str = ""  # one line saying what to do; empty when the check passes
    required: bool = False  # training or prediction cannot work while this check fails

    def to_dict(self) -> dict:
        """The check as a JSON-ready dict: name, status, detail, fix, required."""
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    """What a probe found, before run_checks names it."""

    status: str
    detail: str
    fix: str = ""


def passed(detail: str) -> Outcome:
    return Outcome(PASS, detail)


def warned(detail: str, fix: str) -> Outcome:
    return Outcome(WARN, detail, fix)


def failed(detail: str, fix: str) -> Outcome:
    return Outcome(FAIL, detail, fix)


Probe = Callable[[], Outcome]


def run_checks() -> list[Check]:
    """Run every check, in report order. Never raises; a broken probe becomes a failed check."""
    return [_run(name, required, probe) for name, required, probe in _probes()]


def exit_code(checks: list[Check]) -> int:
    """1 when a required check failed, else 0: warnings and optional failures do not count."""
    return int(any(c.required and c.status == FAIL for c in checks))


def _probes() -> list[tuple[str, bool, Probe]]:
    # Built on each call so tests can replace a single probe with monkeypatch.
    # soundfile's probe also loads it, to report the libsndfile it runs on.
    special = {"soundfile": _probe_soundfile}
    packages = [
        (
            dist,
            required,
            special.get(dist) or partial(_probe_package, dist, module, required, extra),
        )
        for dist, module, required, extra in PACKAGES
    ]
    return [
        ("python", True, _probe_python),
        *packages,
        ("compute device", False, _probe_device),
        ("torchaudio resample", True, _probe_resample),
        ("audio formats", True, _probe_formats),
        ("microphone", False, _probe_microphone),
        ("hf cache", False, _probe_hf_cache),
        ("hf offline", False, _probe_hf_offline),
        ("default model", False, _probe_default_model),
        ("user folders", True, _probe_folders),
        ("disk space", False, _probe_disk),
    ]


def _run(name: str, required: bool, probe: Probe) -> Check:
    try:
        outcome = probe()
    except Exception as exc:  # contain it: one broken probe must not hide the rest
        outcome = failed(
            f"check crashed: {short_reason(exc)}",
            "reinstall the package named in the error: pip install --force-reinstall NAME",
        )
    return Check(name, outcome.status, outcome.detail, outcome.fix, required)


# --- versions ------------------------------------------------------------------------------


def _requirements() -> dict:
    """This package's declared requirements, by canonical name (extras included)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    try:
        declared = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:  # running from a bare source tree
        return {}
    found = {}
    for line in declared:
        req = Requirement(line)
        found.setdefault(canonicalize_name(req.name), req)
    return found


def _probe_python() -> Outcome:
    from packaging.specifiers import SpecifierSet

    version = platform.python_version()
    try:
        wanted = importlib.metadata.metadata(DISTRIBUTION)["Requires-Python"] or ""
    except importlib.metadata.PackageNotFoundError:
        wanted = ""
    if wanted and not SpecifierSet(wanted).contains(version, prereleases=True):
        return failed(f"Python {version}, ser needs {wanted}", f"install Python {wanted}")
    return passed(f"{version} ({platform.python_implementation()})")


def _probe_package(dist: str, module: str, required: bool, extra: str | None) -> Outcome:
    from packaging.utils import canonicalize_name

    req = _requirements().get(canonicalize_name(dist))
    spec = str(req.specifier) if req else ""
    install = f"pip install 'ser-cli[{extra}]'" if extra else f"pip install '{dist}{spec}'"
    missing = warned if not required else failed
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        why = f"optional, for the '{extra}' extra" if extra else "needed"
        return missing(f"not installed ({why})", install)
    if importlib.util.find_spec(module) is None:
        return missing(f"{version} installed but '{module}' cannot be found", install)
    if spec and not req.specifier.contains(version, prereleases=True):
        return warned(f"{version}, tested with {spec}", f"pip install '{dist}{spec}'")
    return passed(version)


def _probe_soundfile() -> Outcome:
    found = _probe_package("soundfile", "soundfile", True, None)
    if found.status == FAIL:
        return found
    try:
        import soundfile as sf
    except (ImportError, OSError) as exc:  # OSError: the libsndfile shared library is missing
        return failed(
            f"cannot load: {short_reason(exc)}",
            "pip install --force-reinstall soundfile (or apt-get install libsndfile1)",
        )
    return Outcome(
        found.status, f"{found.detail}, libsndfile {sf.__libsndfile_version__}", found.fix
    )


# --- compute -------------------------------------------------------------------------------


def _probe_device() -> Outcome:
    import torch

    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        names = sorted({torch.cuda.get_device_name(i) for i in range(count)})
        return passed(f"CUDA: {count} GPU(s), {', '.join(names)}; CPU also available")
    if torch.backends.mps.is_available():
        return passed("MPS (Apple GPU); CPU also available")
    return warned(
        "no CUDA or MPS GPU: ser will run on the CPU (slower, still works)",
        "optional, for speed: a CUDA build of torch (https://pytorch.org/get-started)",
    )


def _probe_resample() -> Outcome:
    import torch
    import torchaudio.functional as F

    from ser_cli.audio.io import SAMPLE_RATE

    frames = int(PROBE_SECONDS * SAMPLE_RATE)
    out = F.resample(torch.zeros(1, frames), SAMPLE_RATE, PROBE_RATE)
    expected = int(PROBE_SECONDS * PROBE_RATE)
    if tuple(out.shape) != (1, expected):
        return failed(
            f"resample gave shape {tuple(out.shape)}, expected (1, {expected})",
            "pip install --force-reinstall torchaudio matching your torch version",
        )
    return passed(f"resampled {SAMPLE_RATE} Hz -> {PROBE_RATE} Hz")


# --- audio I/O -----------------------------------------------------------------------------


def _probe_formats() -> Outcome:
    import numpy as np
    import soundfile as sf

    from ser_cli.audio.io import SAMPLE_RATE

    clip = np.zeros(int(PROBE_SECONDS * SAMPLE_RATE), dtype=np.float32)
    working, broken = [], []
    with tempfile.TemporaryDirectory(prefix="ser-doctor-") as tmp:
        for fmt, subtype, suffix in SOUND_FORMATS:
            path = Path(tmp) / f"probe{suffix}"
            try:
                sf.write(path, clip, SAMPLE_RATE, format=fmt, subtype=subtype)
                samples, _ = sf.read(path, dtype="float32")
                ok = len(samples) > 0
            except Exception:  # libsndfile raises several types for formats it lacks
                ok = False
            (working if ok else broken).append(fmt)
    detail = f"read+write: {', '.join(working) or 'none'}"
    if broken:
        detail += f"; not supported: {', '.join(broken)}"
    if "WAV" not in working:
        return failed(detail, "pip install --force-reinstall soundfile (bundles libsndfile)")
    if broken:
        fix = "pip install -U soundfile (its wheels bundle a recent libsndfile)"
        if "MP3" in broken and _libsndfile_version() < MP3_LIBSNDFILE:
            fix = "MP3 needs libsndfile >= 1.1: " + fix
        return warned(detail, fix + "; or convert files to WAV/FLAC")
    return passed(detail)


def _libsndfile_version() -> tuple[int, ...]:
    import soundfile as sf

    parts = sf.__libsndfile_version__.split("-")[0].split(".")
    return tuple(int(p) for p in parts if p.isdigit())


def _probe_microphone() -> Outcome:
    try:
        import pyaudio
    except (ImportError, OSError):  # OSError: the PortAudio shared library is missing
        return warned("PyAudio not installed (only `ser listen` needs it)", MIC_FIX)
    with quiet_c_stderr():  # PortAudio prints ALSA/JACK chatter while it scans devices
        audio = pyaudio.PyAudio()
        try:
            devices = [audio.get_device_info_by_index(i) for i in range(audio.get_device_count())]
        finally:
            audio.terminate()
    inputs = [d["name"] for d in devices if d.get("maxInputChannels", 0) > 0]
    if not inputs:
        return warned(
            "PyAudio works but there is no input device (headless machine?)",
            "connect a microphone for `ser listen`; predict on files needs none",
        )
    return passed(f"{len(inputs)} input device(s): {', '.join(inputs)}")


# --- models and caches ---------------------------------------------------------------------


def hf_cache_dir() -> Path:
    """Where transformers keeps downloaded models, resolved as huggingface_hub does."""
    hub = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if hub:
        return Path(hub).expanduser()
    home = os.environ.get("HF_HOME")
    if not home:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        home = str(Path(xdg) / "huggingface")
    return Path(home).expanduser() / "hub"


def _probe_hf_cache() -> Outcome:
    cache = hf_cache_dir()
    source = next((f"from {v}" for v in HF_CACHE_VARS if os.environ.get(v)), "default")
    if cache.is_dir():
        models = sum(1 for p in cache.iterdir() if p.name.startswith("models--"))
        return passed(f"{cache} ({source}, {models} model(s) cached)")
    return passed(f"{cache} ({source}, not created yet)")


def _probe_hf_offline() -> Outcome:
    set_vars = [v for v in HF_OFFLINE_VARS if os.environ.get(v, "").lower() in TRUTHY]
    if set_vars:
        return passed(f"{', '.join(set_vars)} set: models load from the cache only")
    return passed("not set: pretrained models download on first use")


def _probe_default_model() -> Outcome:
    folder = paths.bundled_model_dir()
    if folder.is_dir() and any(folder.iterdir()):
        if (folder / paths.BUNDLED_ONNX).exists():
            return passed(f"{folder} (on the CPU its {paths.BUNDLED_ONNX} runs, without torch)")
        return passed(f"{folder} (no {paths.BUNDLED_ONNX}: it runs in torch)")
    return warned(
        f"none bundled yet ({folder})",
        "`ser predict` needs --model RUN_DIR until one ships; train one with `ser train`",
    )


# --- folders -------------------------------------------------------------------------------


def _probe_folders() -> Outcome:
    folders = (paths.user_dir(), paths.cache_dir())
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".ser-doctor-"):
                pass
        except OSError as exc:
            return failed(
                f"{folder} is not writable: {short_reason(exc)}",
                f"point {paths.HOME_ENV} at a writable folder, e.g. export {paths.HOME_ENV}=~/ser",
            )
    return passed(f"{paths.user_dir()} and its features/, models/ are writable")


def _probe_disk() -> Outcome:
    folder = paths.user_dir()
    while not folder.exists() and folder != folder.parent:  # measure the disk it will be on
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    detail = f"{free / 1024**3:.1f} GiB free on {folder}"
    if free < MIN_FREE_DISK:
        return warned(
            detail + f" (under {MIN_FREE_DISK / 1024**3:.0f} GiB)",
            f"free some space, or set {paths.HOME_ENV} to a folder on a larger disk",
        )
    return passed(detail)
