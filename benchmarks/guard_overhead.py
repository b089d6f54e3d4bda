"""Do the output guard and the validators slow `ser` down? Cold start, two checkouts, one run.

    python benchmarks/guard_overhead.py BEFORE_REV [REPEAT]

Times `ser --help` and a cold `ser predict CLIP` (the bundled model, one RAVDESS example) as
`python -m ser_cli` with PYTHONPATH pointing at each checkout in turn, interleaved so a busy
machine slows both alike; writes benchmarks/results/guard-overhead.json (medians and the
after/before ratios). BEFORE_REV is a git revision without the guards (its ``ser_cli`` is
extracted with ``git archive`` into a temporary folder); "after" is this working tree.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ser_cli.atomic import write_json

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _once(tree: Path, args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "ser_cli", *args],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def _extract(rev: str, folder: Path) -> Path:
    """``rev``'s ser_cli package, written under ``folder``."""
    archive = subprocess.run(
        ["git", "archive", rev, "ser_cli"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def _checks_ms(clip: Path, repeat: int = 200) -> float:
    """In-process time of what the guards add to a `ser predict CLIP -o out.json` with the
    bundled model: the output guard, the sidecar's values and the statistics' checks."""
    import tempfile

    sys.path.insert(0, str(ROOT))
    from ser_cli.models.checkpoint import load_weights, read_sidecar
    from ser_cli.models.metadata import check_sidecar_values, check_stats
    from ser_cli.outputs import Output, check_outputs
    from ser_cli.paths import bundled_model_dir

    meta = read_sidecar(bundled_model_dir())

    class _Any:  # load_weights only needs load_state_dict for the statistics
        def load_state_dict(self, *a, **k):
            pass

    stats = load_weights(bundled_model_dir(), "best", _Any())
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        for _ in range(repeat):
            check_outputs([Output(Path(tmp) / "out.json", "-o")], [clip])
            check_sidecar_values(meta, "best.json")
            check_stats(stats.mean, stats.std, len(stats.mean), "best.safetensors")
        return (time.perf_counter() - start) / repeat * 1000


def main(rev: str, repeat: int = 7) -> dict:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return _measure(rev, _extract(rev, Path(tmp)), repeat)


def _measure(rev: str, before: Path, repeat: int) -> dict:
    clip = sorted((ROOT / "examples").glob("*.wav"))[0]
    commands = {"help": ["--help"], "predict": ["predict", str(clip)]}
    trees = {"before": before, "after": ROOT}
    times = {(t, c): [] for t in trees for c in commands}
    for _ in range(repeat):
        for c, args in commands.items():
            for t, tree in trees.items():  # interleaved: load changes hit both alike
                times[t, c].append(_once(tree, args))
    result = {
        "command": f"python benchmarks/guard_overhead.py {rev} {repeat}",
        "after": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
        "clip": str(clip.relative_to(ROOT)),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "note": "interleaved runs, so a busy machine slows both alike: the ratio is the figure to read",
    }
    for c in commands:
        b = statistics.median(times["before", c])
        a = statistics.median(times["after", c])
        result[c] = {"before_median_s": b, "after_median_s": a, "ratio": a / b}
    result["added_checks_ms"] = _checks_ms(clip)
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "guard-overhead.json", result)
    return result


if __name__ == "__main__":
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    print(json.dumps(main(sys.argv[1], repeat), indent=2))
