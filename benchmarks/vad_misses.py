"""How often `ser predict`'s speech check calls a clip of the shared corpora silence.

    python benchmarks/vad_misses.py
    python benchmarks/vad_misses.py --loco NAME [--seeds 0 1 2]
    python benchmarks/vad_misses.py --folds NAME [--seeds 0 1 2]

Every file `ser predict` classifies whole is first checked for speech (Silero, the bundled
model's detector; a stretch of MIN_SPEECH that starts at SPEECH_THRESHOLD,
``ser_cli.audio.vad``). A clip with none is a ``silence`` result, not an emotion. This runs
Silero over every clip of the mix manifest (RAVDESS 01-20, EmoDB, ASED; ``python
benchmarks/corpora.py`` prepares it) and over 215 recordings that are not speech (synthetic
noises, hum, buzz, tones and clicks at five levels, and RAVDESS room tone), and counts, for each
threshold of a sweep, the clips called silence per corpus and label and the non-speech let
through (results/vad-misses.json, with the files the default threshold calls silence).

``--loco NAME`` then scores each left-out corpus as `ser predict` would give it to a user: the
leave-one-corpus-out models of ``python benchmarks/corpora.py loco --name NAME`` (no
adaptation) on every clip of the corpus they never heard, once as `ser eval` scores them (every
clip classified) and with the clips the speech check calls silence counted as wrong (a user
gets no emotion for them), for the check and for Silero's own threshold:
results/vad-misses-loco-NAME.json. ``--folds NAME`` does the same for the speaker folds of
``python benchmarks/corpora.py folds --name NAME`` (each corpus over its own classes, on the
test speakers of each fold): results/vad-misses-folds-NAME.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from ser_cli.atomic import write_json  # noqa: E402

CORPORA = ("ravdess", "emodb", "ased")


def _mean(by_corpus: dict) -> dict:
    """Both accuracies averaged over the three corpora."""
    from corpora import FOUR

    return {
        key: sum(by_corpus[c][key] for c in CORPORA) / len(CORPORA) for key in ("accuracy", FOUR)
    }


def _checks() -> dict[str, set]:
    """The files each speech check calls silence: the check `ser predict` runs, and Silero's own
    threshold (the check before it)."""
    from corpora import RESULTS

    misses = json.loads((RESULTS / "vad-misses.json").read_text())
    return {
        "with_speech_check": set(misses["files"]),
        "with_silero_default": set(misses["files_at_silero_default"]),
    }


def _score(ckpt, test: list[dict], checks: dict[str, set]) -> dict:
    """A model on one corpus's clips, per clip, as `ser eval` scores another corpus
    (evaluate.score_probabilities: over the corpus's own labels, calm as neutral where it has
    none, and the 4-class view), then with each check's silence results counted as wrong.
    Returns the accuracies and the clip counts (``n``, ``n_4_class``) behind them."""
    import numpy as np
    from corpora import FOUR

    from ser_cli.inference.evaluate import evaluate_rows
    from ser_cli.inference.label_mapping import FOUR_CLASSES, four_class_mapping, map_labels

    own = sorted({r["label"] for r in test})
    report = evaluate_rows(ckpt, test, adapt=False, per_file=True, corpus_labels=own)
    preds = report["predictions"]
    probs = np.array([[p["probabilities"][k] for k in ckpt.labels] for p in preds])
    truth = [p["label"] for p in preds]
    mapping = map_labels(ckpt.labels, own)
    right = mapping.apply(probs).argmax(1) == np.asarray(mapping.targets(truth))
    four = four_class_mapping(ckpt.labels)
    keep = np.array([label in FOUR_CLASSES for label in truth])
    right4 = four.apply(probs[keep]).argmax(1) == np.asarray(
        four.targets([t for t, k in zip(truth, keep, strict=True) if k])
    )
    # The recount of every clip is the report's own figure (a check of this script).
    assert abs(right.mean() - report["accuracy"]) < 1e-9
    assert abs(right4.mean() - report["four_class"]["accuracy"]) < 1e-9
    entry = {
        "accuracy": float(right.mean()),
        FOUR: float(right4.mean()),
        "n": len(right),
        "n_4_class": len(right4),
    }
    for check, silenced in checks.items():
        heard = np.array([p["path"] not in silenced for p in preds])
        entry[check] = {
            "accuracy": float((right & heard).mean()),
            FOUR: float((right4 & heard[keep]).mean()),
            "called_silence": int((~heard).sum()),
            "called_silence_4_class": int((~heard[keep]).sum()),
        }
    return entry


def loco(name: str, seeds: list[int]) -> None:
    """Leave-one-corpus-out accuracy with and without the speech checks' silence results."""
    from corpora import OUT, mix_manifest

    from ser_cli.data.manifest import read_manifest
    from ser_cli.models.checkpoint import load_checkpoint

    checks = _checks()
    rows = read_manifest(mix_manifest())
    out: dict = {"name": name, "seeds": {}}
    for seed in seeds:
        entry = {}
        for corpus in CORPORA:
            ckpt = load_checkpoint(OUT / f"loco-{name}-s{seed}" / f"without-{corpus}")
            entry[corpus] = _score(ckpt, [r for r in rows if r["corpus"] == corpus], checks)
        entry["mean"] = _mean(entry)
        for check in checks:
            entry["mean"][check] = _mean({c: entry[c][check] for c in CORPORA})
        out["seeds"][str(seed)] = entry
        print(json.dumps({seed: entry}, indent=1), flush=True)
    _save("loco", name, seeds, out)


def folds(name: str, seeds: list[int]) -> None:
    """Speaker-fold accuracy per corpus (each fold's best model on its test speakers, clip-
    weighted over the folds as ``corpora.py folds`` reports) with and without the speech
    checks' silence results."""
    from corpora import OUT, mix_manifest

    from ser_cli.data.manifest import read_manifest
    from ser_cli.models.checkpoint import load_checkpoint

    checks = _checks()
    rows = read_manifest(mix_manifest())
    out: dict = {"name": name, "seeds": {}}
    for seed in seeds:
        per_fold: dict[str, list] = {c: [] for c in CORPORA}
        run = OUT / f"folds-{name}-s{seed}"
        cv = json.loads((run / "cv.json").read_text()) if (run / "cv.json").exists() else {}
        if not cv or cv["folds_run"] != cv["folds_total"]:
            raise SystemExit(
                f"{run}: its speaker folds are not all trained; finish them with python "
                f"benchmarks/corpora.py folds --seeds {seed} --name {name} (its --set, --resume)"
            )
        for fold_dir in sorted(run.glob("fold*")):
            ckpt = load_checkpoint(fold_dir, "best")
            fold = fold_dir.name.removeprefix("fold")
            for corpus in CORPORA:
                test = [r for r in rows if r["corpus"] == corpus and r["fold"] == fold]
                per_fold[corpus].append(_score(ckpt, test, checks))
        entry = {}
        for corpus, scores in per_fold.items():
            total = sum(s["n"] for s in scores)
            entry[corpus] = {"accuracy": sum(s["accuracy"] * s["n"] for s in scores) / total}
            for check in checks:
                entry[corpus][check] = {
                    "accuracy": sum(s[check]["accuracy"] * s["n"] for s in scores) / total,
                    "called_silence": sum(s[check]["called_silence"] for s in scores),
                }
        out["seeds"][str(seed)] = entry
        print(json.dumps({seed: entry}, indent=1), flush=True)
    _save("folds", name, seeds, out)


def _save(kind: str, name: str, seeds: list[int], out: dict) -> None:
    """results/vad-misses-KIND-NAME.json, with when and by which command it was measured."""
    from corpora import RESULTS

    out["measured"] = time.strftime("%Y-%m-%d %H:%M")
    out["command"] = (
        f"python benchmarks/vad_misses.py --{kind} {name} --seeds {' '.join(map(str, seeds))}"
    )
    write_json(RESULTS / f"vad-misses-{kind}-{name}.json", out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loco", metavar="NAME", help="score these leave-one-corpus-out runs")
    parser.add_argument("--folds", metavar="NAME", help="score these speaker-fold runs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    if args.loco:
        loco(args.loco, args.seeds)
        return
    if args.folds:
        folds(args.folds, args.seeds)
        return
    misses()


THRESHOLDS = (0.5, 0.4, 0.35, 0.3, 0.25, 0.2)  # where a stretch of speech starts
SILERO_DEFAULT = 0.5  # silero-vad's own threshold, the check's until it was measured here
LEVELS = (-60, -45, -30, -20, -10)  # dBFS (RMS) of each synthetic noise
ROOM_TONE_CLIPS = 12  # RAVDESS clips per actor whose first ROOM_TONE_SECONDS make a room tone
ROOM_TONE_SECONDS = 0.25


def non_speech() -> dict:
    """Recordings the speech check should reject: every synthetic noise of
    ``ser_cli.audio.synthetic.noise`` at each of LEVELS (3 s, seeds 0-2), and each RAVDESS
    actor's room tone (the silent first ROOM_TONE_SECONDS of ROOM_TONE_CLIPS clips, joined)."""
    import numpy as np
    from corpora import mix_manifest

    from ser_cli.audio.io import SAMPLE_RATE, load_audio
    from ser_cli.audio.synthetic import NOISES, noise
    from ser_cli.data.manifest import read_manifest

    out = {
        f"{kind} {db} dBFS #{seed}": noise(kind, dbfs=db, seed=seed)
        for kind in NOISES
        for db in LEVELS
        for seed in range(3)
    }
    heads: dict[str, list] = {}
    for row in read_manifest(mix_manifest()):
        if (
            row["corpus"] == "ravdess"
            and len(heads.setdefault(row["speaker"], [])) < ROOM_TONE_CLIPS
        ):
            samples = load_audio(row["path"], check_silence=False)
            heads[row["speaker"]].append(samples[: int(ROOM_TONE_SECONDS * SAMPLE_RATE)])
    for speaker, parts in heads.items():
        out[f"room tone {speaker}"] = np.concatenate(parts)
    return out


def misses() -> None:
    """Clips called silence and non-speech let through, at each candidate threshold."""
    from corpora import RESULTS, mix_manifest
    from rich.progress import track

    from ser_cli.audio.io import load_audio
    from ser_cli.audio.vad import SPEECH_THRESHOLD, speech_spans
    from ser_cli.data.manifest import read_manifest
    from ser_cli.inference.load import load_predictor

    vad = load_predictor("default").vad
    rows = read_manifest(mix_manifest())
    clips = Counter(r["corpus"] for r in rows)
    missed = {t: Counter() for t in THRESHOLDS}
    files, silero_default = [], []
    started = time.perf_counter()
    for row in track(rows, description="speech check"):
        samples = load_audio(row["path"], check_silence=False)
        probs = vad.chunk_probabilities(samples)
        heard = {t: bool(speech_spans(probs, t)) for t in THRESHOLDS}
        for t in THRESHOLDS:
            if not heard[t]:
                missed[t][(row["corpus"], row["label"])] += 1
        if not heard[SILERO_DEFAULT]:
            silero_default.append(row["path"])
        if not heard[SPEECH_THRESHOLD]:
            files.append(row["path"])
            # the check `ser predict` runs (read in blocks, stopping early) agrees
            assert not vad.has_speech(samples)
    seconds = time.perf_counter() - started
    noise = {name: vad.chunk_probabilities(x) for name, x in non_speech().items()}
    passed = {t: sorted(n for n, p in noise.items() if speech_spans(p, t)) for t in THRESHOLDS}

    def by_corpus(count: Counter) -> dict:
        return {
            corpus: {
                "clips": sum(n for (c, _), n in count.items() if c == corpus),
                "by_label": {lab: n for (c, lab), n in sorted(count.items()) if c == corpus},
            }
            for corpus in clips
        }

    out = {
        "measured": time.strftime("%Y-%m-%d %H:%M"),
        "seconds": round(seconds, 1),
        "threshold": SPEECH_THRESHOLD,
        "clips": dict(clips),
        "called_silence": by_corpus(missed[SPEECH_THRESHOLD]),
        "non_speech": len(noise),
        "sweep": {
            str(t): {"called_silence": by_corpus(missed[t]), "non_speech_passed": passed[t]}
            for t in THRESHOLDS
        },
        "files": files,
        "files_at_silero_default": silero_default,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "vad-misses.json", out)
    print(
        json.dumps({k: v for k, v in out.items() if not k.startswith(("files", "sweep"))}, indent=2)
    )
    for t in THRESHOLDS:
        total = sum(missed[t].values())
        print(f"threshold {t}: {total} clips called silence, {len(passed[t])} non-speech passed")


if __name__ == "__main__":
    main()
