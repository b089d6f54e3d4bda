"""Long recordings by utterance: boundaries, pauses, accuracy and throughput of `--segment vad`.

    python benchmarks/segmentation.py --model RUN     # everything below (a few minutes)
    python benchmarks/segmentation.py --model RUN --minutes 5   # a shorter throughput recording

RUN is the model whose accuracy is checked: one that never heard the ASED speakers it is tested
on. The bundled model trained on every ASED speaker, so RUN is a fold model of its recipe, which
`python benchmarks/corpora.py folds` trains (its fold0 left 13 ASED speakers out); the ASED
clips are drawn from the speakers missing from RUN's `train_speakers`.

1. A recording of 12 held-out clips (the 8 RAVDESS clips of examples/, actors 21-24, whom no
   model here heard, and 4 ASED clips, Amharic, 4 speakers RUN never heard), each cut to its sentence by loudness (a truth independent of the detector),
   with 1-3 s of room noise (seeded) between them and 1 s at both ends. Reported: utterances
   found with both boundaries within TOLERANCE s, pauses reported as one silence row within
   TOLERANCE s, per-utterance accuracy against the same clips classified one by one. One clip
   is 8 points of that accuracy, so the same check runs on 60 more ASED clips (15 per emotion,
   seeded, none of the 4 above) in 5 recordings of 12.
2. Why utterances get CONTEXT (ser_cli/inference/segment.py) of the pause around them, and
   what it changes: how far the model's own silence trim reaches beyond Silero's span on
   MARGIN_CLIPS of its training clips (RAVDESS actors 01-20; the trim, not the detector,
   decides what a clip alone gives the model); both accuracy checks again with other
   contexts (0: before issue 21); and how many of the 12 clips, classified alone, change
   label when their start moves by less than one 10 ms feature hop (SHIFTS samples).
3. Throughput on a recording of MINUTES minutes made of the same clips and pauses, with the
   bundled model (what a user runs): `predict_files` with `--segment vad` against `--segment fixed` (8 s windows
   every 4 s: the previous default), each in a fresh process; wall time, and peak memory for
   the vad path on the full and on a third of the recording (flat in the length or not).

Results land in benchmarks/results/segmentation.json; docs/long-recordings.md quotes them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ser_cli.atomic import write_json  # noqa: E402
from ser_cli.audio.io import SAMPLE_RATE, load_audio, write_audio  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
ASED = DATA / "ased-16k"
ASED_EMOTIONS = {"02Fearful": "fearful", "03Happy": "happy", "04Sad": "sad", "05Angry": "angry"}
RAVDESS_EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
TOLERANCE = 0.3  # seconds: a boundary this close to the truth is found
PAUSES = (1.0, 3.0)  # seconds: the range of pauses between utterances (uniform, seeded)
EDGE = 1.0  # seconds of room noise before the first and after the last utterance
FLOOR = 1e-4  # amplitude of the room noise in the pauses (about -80 dBFS)
MINUTES = 30.0  # length of the throughput recording
LARGER_PER_EMOTION = 15  # ASED clips per emotion in the larger check (60 in 5 recordings)
SEED = 0
MARGIN_CLIPS = 150  # training clips (seeded) whose trim is compared with Silero's span
CONTEXTS = (0.0, 0.125, 0.5)  # seconds of context tried besides segment.CONTEXT
SHIFTS = tuple(range(0, 160, 10))  # samples cut from a clip's start: under one 160-sample hop
RESULTS = ROOT / "benchmarks" / "results" / "segmentation.json"


def ased_speaker(path: Path) -> str:
    """An ASED file's speaker number: its name's last field (a5-03-01-02-50.flac -> 50)."""
    return path.stem.split("-")[-1]


def unheard_ased(model: str) -> set[str]:
    """ASED speaker numbers (as in a file name's last field) missing from ``model``'s
    training speakers. ASED is trained on in a mix, where its speakers are `ased-NN`; plain ids
    are another corpus's (RAVDESS actors 01-20 are not ASED speakers 01-20)."""
    from ser_cli.inference.load import resolve_model_dir
    from ser_cli.models.checkpoint import read_sidecar

    speakers = read_sidecar(resolve_model_dir(model), "best")["train_speakers"]
    heard = {s.removeprefix("ased-") for s in speakers if s.startswith("ased-")}
    every = {ased_speaker(path) for path in ASED.glob("*/*.flac")}
    unheard = every - heard
    if len(unheard) < 4:
        sys.exit(
            f"{model}: it heard all but {len(unheard)} of the ASED speakers; pass --model a fold "
            "run of its recipe (python benchmarks/corpora.py folds ...; e.g. "
            "bench-out/corpora/folds-voice-60-epochs+corpus-weights+voice-l2-0.03-s1/fold0)"
        )
    return unheard


def held_out_clips(unheard: set[str]) -> list[tuple[Path, str]]:
    """(path, true emotion) of the 12 clips: 8 RAVDESS examples, then 4 ASED clips of
    ``unheard`` speakers."""
    clips = []
    for path in sorted((ROOT / "examples").glob("*.wav")):
        code = path.stem.rsplit("_", 1)[-1].split("-")[2]
        clips.append((path, RAVDESS_EMOTIONS[int(code) - 1]))
    speakers: set[str] = set()
    for folder, emotion in ASED_EMOTIONS.items():
        for path in sorted((ASED / folder).glob("*.flac")):
            speaker = ased_speaker(path)
            # one clip per speaker, four speakers
            if speaker in unheard and speaker not in speakers:
                speakers.add(speaker)
                clips.append((path, emotion))
                break
    if len(clips) != 12:
        sys.exit(f"need the 8 examples and 4 ASED clips under {ASED}; found {len(clips)}")
    return clips


def sentence(samples: np.ndarray, top_db: float = 35.0) -> np.ndarray:
    """A clip cut to its sentence by loudness: 20 ms frames within ``top_db`` of the loudest,
    in runs of at least 0.1 s, joined across gaps under 0.5 s; the longest such stretch."""
    frame = SAMPLE_RATE // 50
    n = len(samples) // frame
    rms = np.sqrt((samples[: n * frame].reshape(n, frame) ** 2).mean(axis=1) + 1e-12)
    loud = 20 * np.log10(rms / rms.max()) > -top_db
    runs, start = [], None
    for i, on in enumerate([*loud, False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            if i - start >= 5:
                runs.append([start, i])
            start = None
    groups = [runs[0]]
    for a, b in runs[1:]:
        if a - groups[-1][1] < 25:
            groups[-1][1] = b
        else:
            groups.append([a, b])
    a, b = max(groups, key=lambda g: g[1] - g[0])
    return samples[a * frame : b * frame]


def build(sentences: list[np.ndarray], rng, seconds: float | None = None):
    """Sentences with pauses -> (samples, [(start, end, index)] of each utterance, pauses).

    With ``seconds``, the sentences repeat (in a seeded order) until the recording is that long.
    """
    noise = lambda s: (FLOOR * rng.standard_normal(int(round(s * SAMPLE_RATE)))).astype(np.float32)  # noqa: E731
    parts, truth, t = [noise(EDGE)], [], EDGE
    order = list(range(len(sentences)))
    i = 0
    while True:
        k = order[i % len(order)] if seconds is None else int(rng.integers(len(sentences)))
        clip = sentences[k]
        truth.append((t, t + len(clip) / SAMPLE_RATE, k))
        parts.append(clip)
        t += len(clip) / SAMPLE_RATE
        i += 1
        if (seconds is None and i == len(sentences)) or (seconds is not None and t >= seconds):
            break
        pause = float(rng.uniform(*PAUSES))
        parts.append(noise(pause))
        t += pause
    parts.append(noise(EDGE))
    pauses = [(a[1], b[0]) for a, b in zip(truth, truth[1:], strict=False)]
    return np.concatenate(parts), truth, pauses


def score_boundaries(result, truth, pauses, labels) -> dict:
    speech = [s for s in result.segments if s.probabilities is not None]
    silence = [s for s in result.segments if s.label == "silence"]
    found, right = 0, 0
    per_utterance = []
    for start, end, k in truth:
        match = next(
            (
                s
                for s in speech
                if abs(s.start - start) <= TOLERANCE and abs(s.end - end) <= TOLERANCE
            ),
            None,
        )
        found += match is not None
        ok = match is not None and match.label == labels[k]
        right += ok
        per_utterance.append(
            {
                "true_start": round(start, 3),
                "true_end": round(end, 3),
                "found_start": round(match.start, 3) if match else None,
                "found_end": round(match.end, 3) if match else None,
                "truth": labels[k],
                "predicted": match.label if match else None,
            }
        )
    marked = sum(
        any(abs(s.start - a) <= TOLERANCE and abs(s.end - b) <= TOLERANCE for s in silence)
        for a, b in pauses
    )
    return {
        "utterances": len(truth),
        "found_within_tolerance": found,
        "rows_with_speech": len(speech),
        "pauses": len(pauses),
        "pauses_marked_silence": marked,
        "per_utterance_accuracy": round(right / len(truth), 4),
        "rows": per_utterance,
    }


def more_ased_clips(
    exclude: list[Path], unheard: set[str], per_emotion: int = LARGER_PER_EMOTION
) -> list:
    """(path, emotion) of ``per_emotion`` ASED clips per emotion (seeded) of ``unheard``
    speakers, none of ``exclude``."""
    rng = np.random.default_rng(SEED + 2)
    clips = []
    for folder, emotion in ASED_EMOTIONS.items():
        files = [
            f
            for f in sorted((ASED / folder).glob("*.flac"))
            if f not in exclude and ased_speaker(f) in unheard
        ]
        clips += [(Path(f), emotion) for f in rng.choice(files, per_emotion, replace=False)]
    order = rng.permutation(len(clips))  # emotions mixed within each recording
    return [clips[i] for i in order]


def larger_test(model: str, clips) -> dict:
    """accuracy_test over recordings of 12 clips each; counts summed, accuracies pooled."""
    parts = [
        accuracy_test(model, clips[i : i + 12], SEED + 10 + i) for i in range(0, len(clips), 12)
    ]
    total = sum(p["utterances"] for p in parts)
    keys = (
        "utterances",
        "found_within_tolerance",
        "pauses",
        "pauses_marked_silence",
        "same_label_as_one_by_one",
    )
    out = {k: sum(p[k] for p in parts) for k in keys}
    out["recordings"] = len(parts)
    for k in ("per_utterance_accuracy", "one_by_one_accuracy"):
        out[k] = round(sum(p[k] * p["utterances"] for p in parts) / total, 4)
    out["clips"] = [c for p in parts for c in p["clips"]]
    return out


def _shown(path: Path) -> str:
    """A clip's path from the project root (the shared data as ../shared/data/...)."""
    path = path.resolve()
    if path.is_relative_to(ROOT):
        return str(path.relative_to(ROOT))
    return str(Path("..") / path.relative_to(ROOT.parent))


def accuracy_test(model: str, clips, seed: int = SEED) -> dict:
    from ser_cli.inference.load import load_predictor
    from ser_cli.inference.predictor import predict_files

    predictor = load_predictor(model)
    labels = [emotion for _, emotion in clips]
    sentences = [sentence(load_audio(p)) for p, _ in clips]
    samples, truth, pauses = build(sentences, np.random.default_rng(seed))
    with tempfile.TemporaryDirectory() as tmp:
        path = write_audio(Path(tmp) / "recording.wav", samples)
        [result] = predict_files(predictor, [path])
    alone = predict_files(predictor, [p for p, _ in clips])
    one_by_one = sum(r.label == t for r, t in zip(alone, labels, strict=True)) / len(clips)
    scores = score_boundaries(result, truth, pauses, labels)
    scores["one_by_one_accuracy"] = round(one_by_one, 4)
    scores["same_label_as_one_by_one"] = sum(
        row["predicted"] == alone[k].label
        for row, (_, _, k) in zip(scores["rows"], truth, strict=True)
    )
    scores["one_by_one_labels"] = [r.label for r in alone]
    scores["recording_seconds"] = round(len(samples) / SAMPLE_RATE, 2)
    scores["pause_seconds"] = [round(b - a, 2) for a, b in pauses]
    scores["clips"] = [_shown(p) for p, _ in clips]
    return scores


def trim_margins(per_corpus: int = MARGIN_CLIPS) -> dict:
    """Seconds by which the model's silence trim (features.trim_silence) starts before and
    ends after Silero's speech on whole training clips (negative: inside it)."""
    from ser_cli.audio.vad import speech_spans
    from ser_cli.features.extract import speech_frames
    from ser_cli.inference.load import load_predictor

    predictor = load_predictor("default")
    cfg = predictor.feature_config
    files = sorted((DATA / "ravdess-speech-16k").rglob("*.flac"))
    rng = np.random.default_rng(SEED + 3)
    before, after = [], []
    for path in rng.choice(files, per_corpus, replace=False):
        samples = load_audio(path)
        spans = speech_spans(predictor.vad.chunk_probabilities(samples))
        kept, _ = speech_frames(samples, cfg)
        if not spans or kept.start is None:
            continue
        hop = cfg.hop_length / SAMPLE_RATE  # frame i is centred on sample i * hop_length
        before.append(spans[0][0] - kept.start * hop)
        after.append(kept.stop * hop - spans[-1][1])

    def spread(values: list[float]) -> dict:
        q = np.percentile(values, [50, 75, 90])
        return {
            "median": round(float(q[0]), 3),
            "p75": round(float(q[1]), 3),
            "p90": round(float(q[2]), 3),
            "share_outside_silero": round(float(np.mean(np.array(values) > 0)), 3),
        }

    return {
        "corpus": "ravdess-speech-16k (actors 01-20: training data of every model here)",
        "clips": len(before),
        "trim_starts_before_silero_s": spread(before),
        "trim_ends_after_silero_s": spread(after),
    }


def context_sweep(model: str, clips, more) -> list[dict]:
    """Both accuracy checks with each of CONTEXTS seconds of context instead of CONTEXT."""
    from ser_cli.inference import segment

    default, out = segment.CONTEXT, []
    try:
        for context in CONTEXTS:
            segment.CONTEXT = context
            a, b = accuracy_test(model, clips), larger_test(model, more)
            out.append(
                {
                    "context_seconds": context,
                    **{
                        f"{name}_{k}": m[k]
                        for name, m in (("held_out", a), ("larger_ased", b))
                        for k in ("per_utterance_accuracy", "same_label_as_one_by_one")
                    },
                }
            )
    finally:
        segment.CONTEXT = default
    return out


def shift_check(model: str, clips) -> dict:
    """Each clip alone with its first SHIFTS samples cut (under one feature hop): its labels."""
    from ser_cli.inference.load import load_predictor

    predictor = load_predictor(model)
    labels = {}
    for path, _ in clips:
        samples = load_audio(path)
        probs = predictor.predict_batch([predictor.features(samples[s:]) for s in SHIFTS])
        labels[_shown(path)] = dict(Counter(predictor.labels[int(p.argmax())] for p in probs))
    return {
        "shifts_samples": list(SHIFTS),
        "clips": len(clips),
        "clips_whose_label_changes": sum(len(c) > 1 for c in labels.values()),
        "labels": labels,
    }


TIMER = """
import json, resource, sys, time
from pathlib import Path
from ser_cli.inference.load import load_predictor
from ser_cli.inference.predictor import predict_files
predictor = load_predictor("default")
path, mode = Path(sys.argv[1]), sys.argv[2]
start = time.perf_counter()
[result] = predict_files(predictor, [path], segment=mode)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rows": len(result.segments), "error": result.error,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def timed(path: Path, mode: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", TIMER, str(path), mode],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    row = json.loads(out.stdout.strip().splitlines()[-1])
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}


def throughput_test(clips, minutes: float) -> dict:
    sentences = [sentence(load_audio(p)) for p, _ in clips]
    rng = np.random.default_rng(SEED + 1)
    samples, truth, _ = build(sentences, rng, seconds=minutes * 60)
    third = samples[: len(samples) // 3]
    with tempfile.TemporaryDirectory() as tmp:
        long = write_audio(Path(tmp) / "long.wav", samples)
        short = write_audio(Path(tmp) / "third.wav", third)
        fixed = timed(long, "fixed")
        vad = timed(long, "vad")
        vad_third = timed(short, "vad")
    audio = len(samples) / SAMPLE_RATE
    return {
        "recording_seconds": round(audio, 1),
        "utterances": len(truth),
        "fixed": fixed,
        "vad": vad,
        "vad_on_a_third": vad_third,
        "vad_over_fixed_time": round(vad["seconds"] / fixed["seconds"], 3),
        "vad_real_time_factor": round(vad["seconds"] / audio, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=MINUTES)
    parser.add_argument(
        "--model",
        default="default",
        help="the model whose accuracy is checked: one that never heard some ASED speakers",
    )
    args = parser.parse_args()
    from ser_cli.inference.segment import CONTEXT

    unheard = unheard_ased(args.model)
    clips = held_out_clips(unheard)
    more = more_ased_clips([p for p, _ in clips], unheard)
    started = time.time()
    report = {
        "command": f"python benchmarks/segmentation.py --model {args.model}"
        + (f" --minutes {args.minutes:g}" if args.minutes != MINUTES else ""),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "model": args.model,  # as typed (a fold folder may sit behind a link)
        "ased_speakers_it_never_heard": sorted(unheard),
        "throughput_model": "default (bundled)",
        "tolerance_seconds": TOLERANCE,
        "context_seconds": CONTEXT,
        "accuracy": accuracy_test(args.model, clips),
        "larger_ased": larger_test(args.model, more),
        "trim_margins": trim_margins(),
        "other_contexts": context_sweep(args.model, clips, more),
        "start_shifts": shift_check(args.model, clips),
        "throughput": throughput_test(clips, args.minutes),
        "cpu_cores": len(os.sched_getaffinity(0)),
    }
    report["wall_seconds"] = round(time.time() - started, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS, report)
    a, t = report["accuracy"], report["throughput"]
    print(
        f"utterances found within {TOLERANCE} s: {a['found_within_tolerance']}/{a['utterances']}; "
        f"pauses marked silence: {a['pauses_marked_silence']}/{a['pauses']}; accuracy "
        f"{a['per_utterance_accuracy']:.1%} by utterance vs {a['one_by_one_accuracy']:.1%} one by one"
    )
    b = report["larger_ased"]
    print(
        f"{b['utterances']} more ASED clips in {b['recordings']} recordings: found "
        f"{b['found_within_tolerance']}, pauses {b['pauses_marked_silence']}/{b['pauses']}, accuracy "
        f"{b['per_utterance_accuracy']:.1%} by utterance vs {b['one_by_one_accuracy']:.1%} one by one"
    )
    m, sh = report["trim_margins"], report["start_shifts"]
    print(
        f"trim starts before Silero on {m['clips']} training clips: median "
        f"{m['trim_starts_before_silero_s']['median']} s, 75th percentile "
        f"{m['trim_starts_before_silero_s']['p75']} s; context {CONTEXT} s"
    )
    for row in report["other_contexts"]:
        print(
            f"context {row['context_seconds']} s: {row['held_out_per_utterance_accuracy']:.1%} "
            f"and {row['larger_ased_per_utterance_accuracy']:.1%} by utterance"
        )
    print(
        f"clips whose label changes with a start moved by under a hop: "
        f"{sh['clips_whose_label_changes']} of {sh['clips']}"
    )
    print(
        f"{t['recording_seconds'] / 60:.1f} min: vad {t['vad']['seconds']} s, fixed "
        f"{t['fixed']['seconds']} s ({t['vad_over_fixed_time']}x); peak memory "
        f"{t['vad']['peak_rss_mb']} MB (a third as long: {t['vad_on_a_third']['peak_rss_mb']} MB)"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
