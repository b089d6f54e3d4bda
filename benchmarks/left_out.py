"""A corpus the model never heard, as users meet it: adapting to it, and short clips of it.

    python benchmarks/left_out.py NAME [--seeds 0 1 2]

No training: for each seed, the leave-one-corpus-out models of ``python benchmarks/corpora.py
loco --name NAME`` (run folders in bench-out/corpora/) score every clip of the corpus each never
heard, over its own classes and the angry/happy/neutral/sad view, five ways:

- ``none``: the training data's statistics normalise each clip (what ``ser predict`` does);
- ``all``: every clip of the corpus normalised together by their own statistics (``ser predict
  --adapt all`` given all of a corpus's files: no labels, no speakers);
- ``speaker``: each speaker's clips by that speaker's statistics (speaker identity given:
  ``ser eval --adapt``, ``ser predict --adapt folder`` with a folder per speaker);
- ``1.0s`` and ``0.5s``: only that much audio from the middle of each clip's speech, its
  features (voice embedding included) computed from the cut, as a user's single word or short
  reply would be; no adaptation;
- ``1.0s+whole-voice`` and ``0.5s+whole-voice`` (models with ``features.voice``): the same cuts'
  log-mel beside the whole clip's voice embedding, to tell how much of what a short clip loses
  is the embedding's (a diagnostic: a user's short clip has no whole clip);
- ``speaker-mel-only`` and ``speaker-voice-only`` (models with ``features.voice``): each
  speaker's statistics for the log-mel and the training data's for the voice embedding, and the
  other way round, to tell which part of what speaker adaptation gains is whose (a diagnostic).

Results: benchmarks/results/left-out-NAME.json (each seed, each corpus, each way).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from ser_cli.atomic import write_json  # noqa: E402

SHORT = (1.0, 0.5)  # seconds of speech kept for the short-clip views


def _short_features(path: str, seconds: float, cfg) -> np.ndarray:
    """Features of ``seconds`` of audio cut from the middle of the clip's speech (the span
    feature extraction keeps when it trims silence), voice embedding computed from the cut."""
    from ser_cli.audio.io import SAMPLE_RATE, load_audio
    from ser_cli.features.extract import compute_features, speech_frames

    samples = load_audio(Path(path))
    span, total = speech_frames(samples, cfg)
    hop = cfg.hop_length
    start, stop = (span.start or 0) * hop, min(len(samples), (span.stop or total) * hop)
    keep = int(seconds * SAMPLE_RATE)
    middle = (start + stop) // 2
    first = max(0, min(middle - keep // 2, len(samples) - keep))
    return compute_features(samples[first : first + keep], cfg)


def _split_stats(mel, voice, voice_dims: int):
    """Statistics taking the log-mel dims from ``mel`` and the voice dims from ``voice``."""
    from ser_cli.features.normalization import Stats

    cut = len(mel.mean) - voice_dims
    return Stats(
        np.concatenate([mel.mean[:cut], voice.mean[cut:]]),
        np.concatenate([mel.std[:cut], voice.std[cut:]]),
    )


def views(name: str, seeds: list[int]) -> dict:
    from corpora import CORPORA, FOUR, left_out

    from ser_cli.features.clips import clip_stats
    from ser_cli.features.extract import with_voice
    from ser_cli.features.normalization import frame_stats
    from ser_cli.inference.batch import probabilities
    from ser_cli.inference.evaluate import score_probabilities

    short_cache: dict[tuple[str, str, float], np.ndarray] = {}  # computed once for all seeds
    per_seed: dict = {}
    for seed in seeds:
        entry: dict = {}
        for corpus, ckpt, clips, labels in left_out(name, seed):
            max_frames = ckpt.meta["train_config"]["max_eval_frames"]
            stats = {
                "none": clip_stats(clips, ckpt.normalization, ckpt.global_stats, adapt=False),
                "all": [frame_stats(clips.features)] * len(clips),
                "speaker": clip_stats(clips, ckpt.normalization, ckpt.global_stats, adapt=True),
            }
            dims = ckpt.feature_config.voice_dims
            if dims:
                pairs = list(zip(stats["speaker"], stats["none"], strict=True))
                stats["speaker-mel-only"] = [_split_stats(sp, gl, dims) for sp, gl in pairs]
                stats["speaker-voice-only"] = [_split_stats(gl, sp, dims) for sp, gl in pairs]
            feats = {how: clips.features for how in stats}
            for seconds in SHORT:
                how = f"{seconds}s"
                cfg = ckpt.feature_config
                for path in clips.paths:
                    if (cfg.key(), path, seconds) not in short_cache:
                        short_cache[cfg.key(), path, seconds] = _short_features(path, seconds, cfg)
                feats[how] = [short_cache[cfg.key(), p, seconds] for p in clips.paths]
                stats[how] = stats["none"]
                if cfg.voice:
                    whole = f"{how}+whole-voice"
                    feats[whole] = [
                        with_voice(cut[:, : -cfg.voice_dims], clip[0, -cfg.voice_dims :])
                        for cut, clip in zip(feats[how], clips.features, strict=True)
                    ]
                    stats[whole] = stats["none"]
            entry[corpus] = {}
            for how in stats:
                p = probabilities(ckpt.model, feats[how], stats[how], max_frames=max_frames)
                m = score_probabilities(p, np.asarray(clips.labels), ckpt.labels, labels)
                entry[corpus][how] = {"accuracy": m["accuracy"], FOUR: m["four_class"]["accuracy"]}
            print(json.dumps({seed: {corpus: entry[corpus]}}), flush=True)
        hows = entry[next(iter(CORPORA))]
        entry["mean"] = {
            how: {k: float(np.mean([entry[c][how][k] for c in CORPORA])) for k in hows[how]}
            for how in hows
        }
        per_seed[str(seed)] = entry
    return per_seed


def main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the loco run's --name (bench-out/corpora/loco-NAME-sS)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    started = time.time()
    per_seed = views(args.name, args.seeds)
    result = {
        "measured": time.strftime("%Y-%m-%d %H:%M"),
        "command": f"python benchmarks/left_out.py {args.name} --seeds "
        + " ".join(map(str, args.seeds)),
        "minutes": round((time.time() - started) / 60, 1),
        "short_seconds": list(SHORT),
        "seeds": per_seed,
    }
    path = ROOT / "benchmarks" / "results" / f"left-out-{args.name}.json"
    write_json(path, result)
    print(json.dumps({s: e["mean"] for s, e in per_seed.items()}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
