"""Several processes with the standard launcher: `torchrun --nproc_per_node 2 -m ser_cli train`
on CPU (gloo) trains DistributedDataParallel; rank 0 alone writes the run folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from synthetic_runs import write_corpus

from ser_cli.data.manifest import write_manifest
from ser_cli.training.distributed import Dist

RUN_CONFIG = {
    "model": "enhanced",
    "model_options": {"channels": [8, 16, 16]},
    "train": {"epochs": 2, "batch_size": 8, "crop_frames": 80, "num_threads": 1},
}


def test_shards_cover_the_epoch_evenly():
    order = np.random.default_rng(0).permutation(13)
    shards = [Dist(world=3, rank=r).shard(order) for r in range(3)]
    assert {len(s) for s in shards} == {5}  # same number of steps on every rank
    assert set(np.concatenate(shards)) == set(order.tolist())
    assert Dist().shard(order) is order  # one process: untouched
    rng = np.random.default_rng(1)
    assert Dist().rank_rng(rng, 0, 0) is rng
    a, b = (Dist(world=2, rank=r).rank_rng(rng, 0, 0) for r in (0, 1))
    assert a.random() != b.random()


@pytest.mark.slow
def test_torchrun_two_ranks_train_one_run(tmp_path):
    rows = write_corpus(tmp_path / "audio")
    manifest = write_manifest(rows, tmp_path / "prep" / "manifest.csv")
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(RUN_CONFIG))
    run, logs = tmp_path / "run", tmp_path / "logs"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "--log_dir", str(logs), "--redirects", "3",
        "-m", "ser_cli", "train", "--data", str(manifest), "--out", str(run),
        "--config", str(config), "--device", "cpu",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    outputs = sorted(logs.rglob("stdout.log"), key=lambda p: p.parent.name)
    assert done.returncode == 0, done.stderr[-3000:] + "".join(
        p.with_name("stderr.log").read_text()[-2000:] for p in outputs
    )
    assert sorted(p.name for p in run.iterdir()) == [
        "best.json", "best.safetensors", "config.yaml", "history.jsonl",
        "last.json", "last.optim.safetensors", "last.safetensors", "training_curve.png",
    ]  # fmt: skip
    assert len((run / "history.jsonl").read_text().splitlines()) == 2
    # Each rank printed its own result: the metrics were computed alike everywhere.
    assert len(outputs) == 2
    summaries = [
        [line for line in p.read_text().splitlines() if "best validation" in line] for p in outputs
    ]
    assert summaries[0] and summaries[0] == summaries[1], summaries

    # Resume under torchrun: every rank restores rank 0's `last`, one more epoch is appended.
    resumed = [*command, "--resume", "--epochs", "3"]
    resumed[resumed.index("--log_dir") + 1] = str(tmp_path / "logs-resume")
    done = subprocess.run(resumed, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2, 3]


@pytest.mark.slow
def test_torchrun_fine_tunes_an_encoder(tmp_path):
    from test_finetune import save_encoder

    rows = write_corpus(tmp_path / "audio")
    manifest = write_manifest(rows, tmp_path / "prep" / "manifest.csv")
    encoder = save_encoder(tmp_path / "enc", "wav2vec2")
    config = tmp_path / "run.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model": "ssl",
                "model_options": {"dims": 32, "finetune": "all"},
                "features": {"kind": "ssl", "ssl_model": str(encoder)},
                "train": {
                    "epochs": 2,
                    "batch_size": 8,
                    "crop_frames": 40,
                    "num_threads": 1,
                    "gradient_checkpointing": True,
                    "mask_time_prob": 0.05,
                },  # fmt: skip
            }
        )
    )
    run = tmp_path / "run"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "ser_cli", "train", "--data", str(manifest), "--out", str(run),
        "--config", str(config), "--device", "cpu",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    assert len((run / "history.jsonl").read_text().splitlines()) == 2
    assert (run / "best.safetensors").exists()
