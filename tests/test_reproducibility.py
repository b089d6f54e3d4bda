"""One seed, one result: seeded runs are byte-identical; early stopping is off by default."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from synthetic_runs import quick_config, write_corpus

from ser_cli.config import TrainConfig, load_run_config
from ser_cli.errors import ConfigError
from ser_cli.training.trainer import train_run


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> list[dict]:
    return write_corpus(tmp_path_factory.mktemp("repro") / "audio")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_seeded_runs_give_byte_identical_weights(rows, tmp_path):
    cfg = quick_config("enhanced", epochs=2)
    threads = torch.get_num_threads()
    # The first run computes the features (cold cache); the second reads them back, after
    # something in the process lowered torch's thread count (importing silero_vad does).
    train_run(rows, cfg, tmp_path / "a", cache_root=tmp_path / "cache")
    torch.set_num_threads(1)
    try:
        train_run(rows, cfg, tmp_path / "b", cache_root=tmp_path / "cache")
    finally:
        torch.set_num_threads(threads)
    for name in ("best.safetensors", "last.safetensors"):
        assert _digest(tmp_path / "a" / name) == _digest(tmp_path / "b" / name)
    a, b = (json.loads((tmp_path / run / "best.json").read_text()) for run in "ab")
    assert a["torch_threads"] == b["torch_threads"] >= 1
    assert a["calibration"] == b["calibration"]


def test_a_different_seed_gives_different_weights(rows, tmp_path):
    train_run(rows, quick_config("enhanced", epochs=1), tmp_path / "a", cache_root=tmp_path / "c")
    train_run(
        rows, quick_config("enhanced", epochs=1, seed=1), tmp_path / "b", cache_root=tmp_path / "c"
    )
    assert _digest(tmp_path / "a" / "last.safetensors") != _digest(
        tmp_path / "b" / "last.safetensors"
    )


def test_schedule_runs_to_the_end_by_default_and_patience_still_stops(rows, tmp_path, monkeypatch):
    import ser_cli.inference.metrics as metrics
    from ser_cli.training.run_state import finished

    # A validation UAR that never improves after epoch 1 (patched where the trainer imports it
    # from, at call time).
    flat = {"accuracy": 0.5, "uar": 0.5, "macro_f1": 0.5}
    monkeypatch.setattr(metrics, "compute_metrics", lambda *args: dict(flat))
    assert TrainConfig().patience == 0
    full = train_run(rows, quick_config("enhanced", epochs=3), tmp_path / "full")
    assert full.epochs_run == 3
    stopped = train_run(rows, quick_config("enhanced", epochs=3, patience=1), tmp_path / "stop")
    assert stopped.epochs_run == 2
    # both ran to their end: the schedule's last epoch, or early stopping
    assert finished(tmp_path / "full") and finished(tmp_path / "stop")
    best = json.loads((tmp_path / "full" / "best.json").read_text())
    assert best["epoch"] == 1  # best is still the best validation epoch


def test_negative_patience_is_refused():
    with pytest.raises(ConfigError, match="patience"):
        load_run_config(None, ["train.patience=-1"])
