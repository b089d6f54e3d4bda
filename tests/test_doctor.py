"""`ser doctor`: the report, its JSON form, exit codes, and a fast `ser --help`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ser_cli import doctor
from ser_cli.cli import app
from ser_cli.paths import HOME_ENV

EXPECTED_CHECKS = {
    "python",
    "torch",
    "torchaudio",
    "transformers",
    "huggingface-hub",
    "onnx",
    "onnxruntime",
    "ray",
    "pyarrow",
    "soundfile",
    "numpy",
    "scikit-learn",
    "scipy",
    "silero-vad",
    "resemblyzer",
    "setuptools",
    "webrtcvad",
    "threadpoolctl",
    "soxr",
    "safetensors",
    "pyyaml",
    "matplotlib",
    "packaging",
    "typer",
    "rich",
    "compute device",
    "torchaudio resample",
    "audio formats",
    "microphone",
    "hf cache",
    "hf offline",
    "default model",
    "user folders",
    "disk space",
}
WIDE = {"COLUMNS": "250"}  # a wide terminal, so table cells are not wrapped mid-phrase


def _doctor_json(*, expect_exit: int = 0) -> list[dict]:
    result = CliRunner().invoke(app, ["doctor", "--json"])
    assert result.exit_code == expect_exit, result.output
    return json.loads(result.stdout)


def _by_name(checks: list[dict]) -> dict[str, dict]:
    return {c["name"]: c for c in checks}


def test_doctor_prints_a_table_of_checks(ser_home):
    result = CliRunner().invoke(app, ["doctor"], env=WIDE)

    assert result.exit_code == 0, result.output
    assert "ser doctor" in result.output
    for name in ("python", "torchaudio resample", "audio formats", "user folders"):
        assert name in result.output
    assert "nothing blocks training or prediction" in result.output
    assert ser_home.is_dir()  # the user folders were created


def test_doctor_json_lists_every_check(ser_home):
    checks = _doctor_json()

    assert {c["name"] for c in checks} == EXPECTED_CHECKS
    for check in checks:
        assert set(check) == {"name", "status", "detail", "fix", "required"}
        assert check["status"] in doctor.STATUSES
        assert isinstance(check["required"], bool)
        assert check["detail"]
        assert (check["fix"] == "") == (check["status"] == doctor.PASS)
    found = _by_name(checks)
    assert found["python"]["status"] == doctor.PASS
    assert found["torchaudio resample"]["status"] == doctor.PASS
    assert "WAV" in found["audio formats"]["detail"]
    assert found["user folders"]["status"] == doctor.PASS


def test_failing_required_check_gives_nonzero_exit_and_shows_fix(ser_home, monkeypatch):
    monkeypatch.setattr(doctor.platform, "python_version", lambda: "3.8.10")

    result = CliRunner().invoke(app, ["doctor"], env=WIDE)

    assert result.exit_code != 0
    assert "FAIL" in result.output
    assert "install Python >=3.10" in result.output


def test_a_crashing_check_fails_alone(ser_home, monkeypatch):
    def broken():
        raise RuntimeError("resampler exploded")

    monkeypatch.setattr(doctor, "_probe_resample", broken)

    checks = _doctor_json(expect_exit=1)

    found = _by_name(checks)
    assert found["torchaudio resample"]["status"] == doctor.FAIL
    assert "resampler exploded" in found["torchaudio resample"]["detail"]
    assert found["audio formats"]["status"] == doctor.PASS  # the others still ran


def test_missing_pyaudio_warns_with_install_hint(ser_home, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyaudio", None)  # makes `import pyaudio` fail

    mic = _by_name(_doctor_json())["microphone"]

    assert mic["status"] == doctor.WARN
    assert not mic["required"]
    assert "pip install 'ser-cli[mic]'" in mic["fix"]
    assert "portaudio19-dev" in mic["fix"]


def test_unwritable_ser_home_fails(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(HOME_ENV, str(blocker / "ser"))

    checks = _doctor_json(expect_exit=1)

    folders = _by_name(checks)["user folders"]
    assert folders["status"] == doctor.FAIL
    assert folders["required"]
    assert HOME_ENV in folders["fix"]


def test_optional_failure_does_not_change_exit_code():
    checks = [
        doctor.Check("python", doctor.PASS, "3.11", required=True),
        doctor.Check("microphone", doctor.FAIL, "broken", "fix it", required=False),
        doctor.Check("compute device", doctor.WARN, "CPU only", "get a GPU", required=False),
    ]
    assert doctor.exit_code(checks) == 0
    assert doctor.exit_code([*checks, doctor.Check("torch", doctor.FAIL, "x", "y", True)]) == 1


def test_missing_bundled_model_warns_about_model_option(ser_home, monkeypatch, tmp_path):
    monkeypatch.setattr(doctor.paths, "bundled_model_dir", lambda: tmp_path / "no-model")

    model = _by_name(_doctor_json())["default model"]

    assert model["status"] == doctor.WARN
    assert "--model" in model["fix"]


def test_the_bundled_model_check_says_whether_its_onnx_export_runs(ser_home, monkeypatch, tmp_path):
    model = _by_name(_doctor_json())["default model"]
    assert model["status"] == doctor.PASS and "model.onnx runs, without torch" in model["detail"]
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "best.json").write_text("{}")
    monkeypatch.setattr(doctor.paths, "bundled_model_dir", lambda: folder)
    model = _by_name(_doctor_json())["default model"]
    assert model["status"] == doctor.PASS and "it runs in torch" in model["detail"]


def test_hf_cache_and_offline_follow_the_environment(ser_home, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    found = _by_name(_doctor_json())

    assert str(tmp_path / "hf" / "hub") in found["hf cache"]["detail"]
    assert "HF_HUB_OFFLINE" in found["hf offline"]["detail"]


def test_help_does_not_import_torch():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from ser_cli.cli import app\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "heavy = [m for m in ('torch', 'torchaudio', 'transformers', 'sklearn', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def _third_party_imports() -> set[str]:
    """Top-level names of the non-stdlib modules ser_cli imports anywhere (also in functions)."""
    import ast

    found = set()
    for path in (Path(__file__).resolve().parents[1] / "ser_cli").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"ser_cli", "__future__"}


def test_doctor_checks_what_the_code_imports_and_pyproject_declares():
    tomllib = pytest.importorskip("tomllib")
    from packaging.requirements import Requirement

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    declared = {Requirement(r).name for r in pyproject["project"]["dependencies"]}
    mic = {Requirement(r).name for r in pyproject["project"]["optional-dependencies"]["mic"]}
    checked = {module for _, module, _, _ in doctor.PACKAGES}
    assert _third_party_imports() == checked | {"pyaudio"}  # pyaudio: the microphone check
    assert {dist for dist, _, required, _ in doctor.PACKAGES if required} == declared
    assert mic == {"pyaudio"}
