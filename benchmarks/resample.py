"""Resampling cost, measured the way users meet it.

    python benchmarks/resample.py            # both measurements below
    python benchmarks/resample.py --clips 20 # fewer clips for a quick look

1. ``ser_cli.audio.io.resample`` on 3 s of audio from 24,414 Hz (a public emotional corpus's
   rate) to 16 kHz: median of repeated calls (target: under 10 ms).
2. ``ser predict`` (the installed CLI, cold process, bundled model) on a folder of synthetic
   clips stored at 24,414 Hz against the same clips stored at 16 kHz (target: at most 1.5x),
   interleaved runs; best wall time and best CPU time of each (the least disturbed run).

Results land in benchmarks/results/resample.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ser_cli.atomic import write_json  # noqa: E402
from ser_cli.audio.io import SAMPLE_RATE, resample, write_audio  # noqa: E402
from ser_cli.audio.synthetic import synth_clip  # noqa: E402
from ser_cli.labels import EMOTIONS  # noqa: E402

ODD_RATE = 24_414  # Hz: the rate that made torchaudio's sinc resampler take seconds per clip
CLIP_SECONDS = 2.0  # seconds per synthetic clip in the predict folders
RESAMPLE_SECONDS = 3.0  # seconds of audio per resample call
RESAMPLE_REPEATS = 50
PREDICT_REPEATS = 3  # cold `ser predict` runs per folder; the median is reported
RESULTS = Path(__file__).resolve().parent / "results"
SER = str(Path(sys.executable).with_name("ser"))


def time_resample() -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    audio = rng.standard_normal(int(RESAMPLE_SECONDS * ODD_RATE)).astype(np.float32) * 0.1
    resample(audio, ODD_RATE)  # warm-up: imports and soxr's first plan
    times = []
    for _ in range(RESAMPLE_REPEATS):
        start = time.perf_counter()
        out = resample(audio, ODD_RATE)
        times.append(time.perf_counter() - start)
    assert abs(len(out) - RESAMPLE_SECONDS * SAMPLE_RATE) <= 1
    return {
        "seconds_of_audio": RESAMPLE_SECONDS,
        "from_hz": ODD_RATE,
        "to_hz": SAMPLE_RATE,
        "median_ms": round(1000 * statistics.median(times), 3),
        "max_ms": round(1000 * max(times), 3),
        "repeats": RESAMPLE_REPEATS,
    }


def write_folder(folder: Path, rate: int, clips: int) -> None:
    for i in range(clips):
        emotion = EMOTIONS[i % len(EMOTIONS)]
        samples = synth_clip(emotion, i % 7, duration=CLIP_SECONDS, sample_rate=rate, seed=i)
        write_audio(folder / f"clip{i:03d}.wav", samples, rate)


def time_predict(folder: Path, repeats: int = 1) -> list[tuple[float, float]]:
    """(wall seconds, CPU seconds) of each cold `ser predict FOLDER --format json` run.

    CPU time (user + system of the child) is reported beside wall time: on a shared machine
    the wall time mostly measures the neighbours.
    """
    import resource

    runs = []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            [SER, "predict", str(folder), "--format", "json"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        runs.append((wall, cpu))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100, help="clips per predict folder")
    args = parser.parse_args()

    result = {"resample": time_resample()}
    with tempfile.TemporaryDirectory() as tmp:
        odd, native = Path(tmp) / f"{ODD_RATE}hz", Path(tmp) / f"{SAMPLE_RATE}hz"
        write_folder(odd, ODD_RATE, args.clips)
        write_folder(native, SAMPLE_RATE, args.clips)
        time_predict(native)  # warm the page cache and the model file once, not timed
        native_runs, odd_runs = [], []
        for _ in range(PREDICT_REPEATS):  # interleaved, so load changes hit both alike
            native_runs += time_predict(native)
            odd_runs += time_predict(odd)

    def summary(runs: list[tuple[float, float]]) -> dict:
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        return {
            "wall_s": [round(w, 2) for w in walls],
            "cpu_s": [round(c, 2) for c in cpus],
            "best_wall_s": round(min(walls), 2),
            "best_cpu_s": round(min(cpus), 2),
        }

    native_sum, odd_sum = summary(native_runs), summary(odd_runs)
    result["predict"] = {
        "clips": args.clips,
        "clip_seconds": CLIP_SECONDS,
        "native_16k": native_sum,
        f"at_{ODD_RATE}": odd_sum,
        "ratio_best_wall": round(odd_sum["best_wall_s"] / native_sum["best_wall_s"], 3),
        "ratio_best_cpu": round(odd_sum["best_cpu_s"] / native_sum["best_cpu_s"], 3),
    }
    result = {
        "measured": time.strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2),
        **result,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "resample.json", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
