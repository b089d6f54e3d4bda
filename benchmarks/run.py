"""Measure the numbers the README reports, with the commands a user would run.

    python benchmarks/run.py startup      # `ser --help` wall time
    python benchmarks/run.py prepare      # `ser prepare` on the shared RAVDESS 16 kHz clips
    python benchmarks/run.py cv [MODEL..] # 5-fold speaker-disjoint CV per model (slow)
    python benchmarks/run.py predict      # `ser predict` cold vs `python -c "import torch"`
    python benchmarks/run.py listen       # `ser listen` processing time per hop (RTF)
    python benchmarks/run.py predict-throughput [N]  # `ser predict` clips/s on N RAVDESS clips
    python benchmarks/run.py crosscorpus [MODEL]  # `ser eval` on every EmoDB clip (default model)
    python benchmarks/run.py onnx         # ONNX vs torch probabilities; cold torch-free predict
    python benchmarks/run.py ray [MODEL]  # clips/s on RAVDESS: one process vs --engine ray
    python benchmarks/run.py all          # everything above

Results land in benchmarks/results/*.json; `python benchmarks/tables.py` writes the docs' tables
from them (benchmarks/README.md says which figure comes from which file and command).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ser_cli.atomic import write_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT.parent / "shared" / "data" / "ravdess-speech-16k"
EMODB = ROOT.parent / "shared" / "data" / "emodb-2s"  # evaluation only: never trained or tuned on
SER = [sys.executable, "-m", "ser_cli"]
BIN_SER = str(Path(sys.executable).with_name("ser"))

# The recipe each model's row of the CV table trains (files in recipes/): the defaults, with
# fewer epochs for the comparison models so the whole table fits in one working session on
# 2 cores (docs/accuracy.md says so).
CV_RECIPES: dict[str, str] = {
    "classic": "classic",
    "enhanced": "utterance-norm-60-epochs",  # the default recipe
    "base": "base",
    "simplified": "simplified",
    "ultimate": "ultimate",
}


def _wall(cmd: list[str], repeat: int = 5) -> list[float]:
    """Wall seconds of ``repeat`` runs of ``cmd``. Python may write bytecode whatever
    PYTHONDONTWRITEBYTECODE says (this machine sets it): a user's later runs read the bytecode
    the first wrote (or `pip install` compiled), and the medians reported are of such runs;
    otherwise every start would compile the modules of an editable install again."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, **quiet)
        times.append(time.perf_counter() - start)
    return times


def _save(name: str, data: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"measured": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), **data}
    write_json(RESULTS / f"{name}.json", data)
    print(json.dumps(data, indent=2))


def startup() -> None:
    times = _wall([BIN_SER, "--help"], repeat=7)
    _save(
        "startup",
        {"command": "ser --help", "best_s": min(times), "median_s": statistics.median(times)},
    )


def manifest_dir() -> Path:
    out = ROOT / "bench-out" / "ravdess"
    if not (out / "manifest.csv").exists():
        subprocess.run(
            [BIN_SER, "prepare", str(DATA), "--out", str(out), "--folds", "5"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return out


def prepare() -> None:
    out = Path(tempfile.mkdtemp())
    times = _wall([BIN_SER, "prepare", str(DATA), "--out", str(out), "--folds", "5"], repeat=3)
    manifest = (out / "manifest.csv").read_text().splitlines()
    shutil.rmtree(out)
    _save(
        "prepare",
        {
            "command": f"ser prepare {DATA} --out DIR --folds 5",
            "clips": len(manifest) - 1,
            "best_s": min(times),
            "median_s": statistics.median(times),
        },
    )


def cv(models: list[str]) -> None:
    manifest = manifest_dir() / "manifest.csv"
    for model in models or list(CV_RECIPES):
        out = ROOT / "bench-out" / f"cv-{model}"
        shutil.rmtree(out, ignore_errors=True)
        recipe = ROOT / "recipes" / f"{CV_RECIPES[model]}.yaml"
        cmd = [BIN_SER, "train", "--config", str(recipe), "--data", str(manifest)]
        cmd += ["--out", str(out), "--cv", "5"]
        start = time.perf_counter()
        subprocess.run(cmd, check=True)
        report = json.loads((out / "cv.json").read_text())
        report["command"] = " ".join(["ser", *cmd[1:]]).replace(str(ROOT) + "/", "")
        report["wall_s"] = time.perf_counter() - start
        _save(f"cv-{model}", report)
    write_results_md()


def predict() -> None:
    clip = sorted((ROOT / "examples").glob("*.wav"))[0]
    torch_times = _wall([sys.executable, "-c", "import torch"], repeat=5)
    predict_times = _wall([BIN_SER, "predict", str(clip)], repeat=5)
    ratio = statistics.median(predict_times) / statistics.median(torch_times)
    _save(
        "predict",
        {
            "command": f"ser predict {clip.relative_to(ROOT)}",
            "import_torch_median_s": statistics.median(torch_times),
            "predict_median_s": statistics.median(predict_times),
            "ratio": ratio,
        },
    )


def predict_throughput(n: int = 200) -> None:
    """`ser predict` clips per second on a folder of ``n`` RAVDESS clips (actors 01-04).

    End to end (decode + features + model, what a user waits for) through the CLI, and the
    model alone on features already in memory: batched (as predict runs now) and one clip
    at a time (as it ran before), so the batching gain is visible apart from feature cost.
    """
    from ser_cli.audio.io import load_audio
    from ser_cli.inference.load import load_predictor

    clips = sorted(DATA.glob("Actor_0[1-4]/*.flac"))[:n]
    folder = Path(tempfile.mkdtemp())
    for clip in clips:
        (folder / clip.name).symlink_to(clip)
    out = folder / "predictions.json"
    cmd = [BIN_SER, "predict", str(folder), "--format", "json", "--output", str(out)]
    cli = _wall(cmd, repeat=2)
    predictor = load_predictor("default")
    started = time.perf_counter()
    feats = [predictor.features(load_audio(clip)) for clip in clips]
    features_s = time.perf_counter() - started
    predictor.predict_batch(feats[:2])  # warm-up
    batched = _best_of(lambda: predictor.predict_batch(feats))
    single = _best_of(lambda: [predictor.predict_batch([f]) for f in feats])
    shutil.rmtree(folder)
    _save(
        "predict-throughput",
        {
            "command": f"ser predict FOLDER_OF_{len(clips)}_RAVDESS_CLIPS --format json --output FILE",
            "clips": len(clips),
            "cli_best_s": min(cli),
            "cli_clips_per_s": len(clips) / min(cli),
            "features_only_clips_per_s": len(clips) / features_s,
            "model_batched_clips_per_s": len(clips) / batched,
            "model_one_at_a_time_clips_per_s": len(clips) / single,
            "batch_size": predictor.batch_size,
        },
    )


def _best_of(func, repeat: int = 2) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


PARITY_CLIPS = 50  # real RAVDESS clips compared ONNX vs torch, spread over all actors


def onnx() -> None:
    """`ser export` of the bundled model; ONNX vs torch probabilities on the 5 examples and
    PARITY_CLIPS real clips; cold `ser predict --model default.onnx` vs `import torch`."""
    import numpy as np

    from ser_cli.audio.io import load_audio
    from ser_cli.inference.load import load_predictor

    model = ROOT / "bench-out" / "default.onnx"
    start = time.perf_counter()
    subprocess.run([BIN_SER, "export", "default", "--out", str(model)], check=True)
    export_s = time.perf_counter() - start
    from ser_cli.paths import bundled_model_dir

    # the run folder named as a path runs in torch (`default` is its shipped ONNX export)
    torch_predictor, onnx_predictor = load_predictor(bundled_model_dir()), load_predictor(model)
    examples = sorted((ROOT / "examples").glob("*.wav"))
    real = sorted(DATA.rglob("*.flac"))
    real = real[:: max(1, len(real) // PARITY_CLIPS)][:PARITY_CLIPS]

    def worst(paths: list[Path]) -> tuple[float, int]:
        diffs, flips = [], 0
        for path in paths:
            samples = load_audio(path)
            a, b = _probs(torch_predictor, samples), _probs(onnx_predictor, samples)
            diffs.append(float(np.abs(a - b).max()))
            flips += int(a.argmax() != b.argmax())
        return max(diffs), flips

    examples_diff, examples_flips = worst(examples)
    real_diff, real_flips = worst(real)
    clip = examples[0]
    torch_times = _wall([sys.executable, "-c", "import torch"], repeat=5)
    onnx_times = _wall([BIN_SER, "predict", "--model", str(model), str(clip)], repeat=5)
    folder = str(bundled_model_dir())
    torch_predict_times = _wall([BIN_SER, "predict", "--model", folder, str(clip)], repeat=5)
    _save(
        "onnx",
        {
            "export_command": "ser export default --out bench-out/default.onnx",
            "export_s": export_s,
            "onnx_bytes": model.stat().st_size,
            "max_abs_prob_diff_examples": examples_diff,
            "top_label_changes_examples": examples_flips,
            "real_clips": len(real),
            "max_abs_prob_diff_real": real_diff,
            "top_label_changes_real": real_flips,
            "command": f"ser predict --model bench-out/default.onnx {clip.relative_to(ROOT)}",
            "import_torch_median_s": statistics.median(torch_times),
            "onnx_predict_median_s": statistics.median(onnx_times),
            "torch_predict_median_s": statistics.median(torch_predict_times),
            "onnx_ratio": statistics.median(onnx_times) / statistics.median(torch_times),
            "torch_ratio": statistics.median(torch_predict_times) / statistics.median(torch_times),
            "load_average_1min": os.getloadavg()[0],
        },
    )


def ray_throughput(model: str = "default") -> None:
    """Clips/s predicting every RAVDESS clip: one `ser predict` process vs `--engine ray`
    with one actor per core (local Ray started by the command, startup included)."""
    out = Path(tempfile.mkdtemp())
    clips = len(list(DATA.rglob("*.flac")))
    single = [BIN_SER, "predict", str(DATA), "--model", model, "--format", "json"]
    single += ["--output", str(out / "single.json")]
    start = time.perf_counter()
    subprocess.run(single, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    single_s = time.perf_counter() - start
    cores = os.cpu_count() or 1
    on_ray = [BIN_SER, "predict", str(DATA), "--model", model, "--engine", "ray"]
    on_ray += ["--actors", str(cores), "--output", str(out / "ray.jsonl")]
    start = time.perf_counter()
    subprocess.run(on_ray, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ray_s = time.perf_counter() - start
    rows = (out / "ray.jsonl").read_text().splitlines()
    shutil.rmtree(out)
    _save(
        f"ray-{Path(model).stem}",
        {
            "clips": clips,
            "single_command": " ".join(["ser", *single[1:]]).replace(str(out), "OUT"),
            "single_s": single_s,
            "single_clips_per_s": clips / single_s,
            "ray_command": " ".join(["ser", *on_ray[1:]]).replace(str(out), "OUT"),
            "ray_s": ray_s,
            "ray_clips_per_s": clips / ray_s,
            "ray_rows": len(rows),
            "load_average_1min": os.getloadavg()[0],
        },
    )


def _examples_with_pauses(folder: Path) -> Path:
    """The example clips strung together with 1 s pauses: the stream `ser listen` is timed on."""
    import numpy as np

    from ser_cli.audio.io import load_audio, write_audio

    pause = np.zeros(16_000, dtype=np.float32)
    clips = [load_audio(p) for p in sorted((ROOT / "examples").glob("*.wav"))]
    stream = np.concatenate([part for clip in clips for part in (clip, pause)])
    wav = folder / "examples-with-pauses.wav"
    write_audio(wav, stream)
    return wav


def _listen_rtf(model: str, wav: Path) -> list[str]:
    """benchmarks/listen_rtf.py's report on ``wav`` streamed three times through ``model``."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "listen_rtf.py"), "--model", model]
    cmd += ["--loops", "3", str(wav)]
    return (
        subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()
    )


def listen() -> None:
    """`ser listen`'s per-hop cost on the example clips strung together with 1 s pauses."""
    wav = _examples_with_pauses(Path(tempfile.mkdtemp()))
    _save(
        "listen",
        {
            "command": "python benchmarks/listen_rtf.py --model default --loops 3 EXAMPLES_WITH_PAUSES.wav",
            "output": _listen_rtf("default", wav),
        },
    )


def ensemble_cost(runs: list[str]) -> None:
    """What shipping several networks instead of one costs a user (issue 20 ships an ensemble
    only where one network loses more than a point): the first run alone and the `ser
    ensemble` of all of them, each exported to ONNX and timed as the bundled model is: cold
    `ser predict` of one example against `import torch`, and `ser listen`'s cost per hop."""
    if len(runs) < 2:
        raise SystemExit("ensemble-cost compares one run with an ensemble: give two or more runs")
    work = Path(tempfile.mkdtemp())
    ensemble = work / "ensemble"
    subprocess.run([BIN_SER, "ensemble", *runs, "--out", str(ensemble)], check=True)
    wav, clip = _examples_with_pauses(work), sorted((ROOT / "examples").glob("*.wav"))[0]
    torch_s = statistics.median(_wall([sys.executable, "-c", "import torch"]))
    models = {}
    for name, run in (("one network", runs[0]), (f"{len(runs)} in one ensemble", ensemble)):
        onnx = work / f"model-{len(models)}.onnx"
        subprocess.run([BIN_SER, "export", str(run), "--out", str(onnx)], check=True)
        predict_s = statistics.median(_wall([BIN_SER, "predict", "--model", str(onnx), str(clip)]))
        models[name] = {
            "onnx_bytes": onnx.stat().st_size,
            "predict_median_s": predict_s,
            "ratio": predict_s / torch_s,
            "listen": _listen_rtf(str(onnx), wav),
        }
    _save(
        "ensemble-cost",
        {
            "command": f"python benchmarks/run.py ensemble-cost {' '.join(runs)}",
            "predict_command": f"ser predict --model MODEL.onnx {clip.relative_to(ROOT)}",
            "import_torch_median_s": torch_s,
            "models": models,
            "load_average_1min": os.getloadavg()[0],
        },
    )


def crosscorpus(model: str = "default") -> None:
    """The model on all EmoDB clips (German, 10 unseen actors, another studio), without and with
    per-speaker adaptation. Boredom has no canonical label, so `ser prepare` leaves it out; calm
    counts as neutral and surprised is dropped (see ser_cli/inference/label_mapping.py)."""
    out = ROOT / "bench-out" / "emodb"
    # The split is irrelevant (every clip is scored with --split all); prepare needs one.
    subprocess.run(
        [BIN_SER, "prepare", str(EMODB), "--out", str(out)], check=True, stdout=subprocess.DEVNULL
    )
    summary = json.loads((out / "summary.json").read_text())
    runs = {}
    for adapt in ("--no-adapt", "--adapt"):
        cmd = [BIN_SER, "eval", "--model", model, "--data", str(out), "--split", "all", adapt]
        cmd += ["--json", "--out", str(ROOT / "bench-out" / f"emodb-eval{adapt[1:]}")]
        start = time.perf_counter()
        report = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        four = report["four_class"]
        runs["adapted" if adapt == "--adapt" else "no_adapt"] = {
            "command": " ".join(["ser", *cmd[1:]]).replace(str(ROOT) + "/", ""),
            "wall_s": round(time.perf_counter() - start, 1),
            "clips": report["n"],
            "classes": report["labels"],
            "accuracy": report["accuracy"],
            "uar": report["uar"],
            "macro_f1": report["macro_f1"],
            "four_class": {k: four[k] for k in ("accuracy", "uar", "macro_f1", "n", "labels")},
            "ece": report["calibration"]["ece"],
            "temperature": report["calibration"]["temperature"],
            "label_mapping": report["label_mapping"],
            "recall": {k: v["recall"] for k, v in report["per_class"].items() if v["support"]},
            "confusion": report["confusion"],
        }
    _save(
        "crosscorpus-emodb",
        {
            "model": model,
            "corpus": "emodb-2s (all clips)",
            "prepare": f"ser prepare {EMODB.relative_to(ROOT.parent)} --out {out.relative_to(ROOT)}",
            "clips_prepared": summary["clips"],
            "rejected_by_prepare": len(summary["rejected"]),  # boredom: no canonical label
            **runs,
        },
    )
    write_results_md()


def write_results_md() -> None:
    """Every table in README.md and docs/ from the results, and the scores `ser models` shows."""
    from benchmarks.tables import main as write_tables

    write_tables([])
    write_model_scores()


def write_model_scores() -> None:
    """The scores `ser models` shows, from the same cv-*.json reports (packaged with ser)."""
    from ser_cli.models.registry_info import SCORES_FILE, scores_from_cv_reports

    reports = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("cv-*.json"))]
    SCORES_FILE.write_text(json.dumps(scores_from_cv_reports(reports), indent=2) + "\n")


def _probs(predictor, samples):
    """One clip's probabilities (classes,) from 16 kHz audio, through the batched path."""
    return predictor.predict_batch([predictor.features(samples)])[0]


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    if what in ("startup", "all"):
        startup()
    if what in ("prepare", "all"):
        prepare()
    if what in ("predict", "all"):
        predict()
    if what in ("listen", "all"):
        listen()
    if what == "predict-throughput":
        predict_throughput(*(int(a) for a in sys.argv[2:3]))
    if what == "cv":
        cv(sys.argv[2:])
    if what == "crosscorpus":
        crosscorpus(*sys.argv[2:3])
    if what == "onnx":
        onnx()
    if what == "ensemble-cost":
        ensemble_cost(sys.argv[2:])
    if what == "ray":
        ray_throughput(*sys.argv[2:3])
    if what == "table":
        write_results_md()
