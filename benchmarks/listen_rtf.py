"""How fast `ser listen` keeps up: processing time per hop and real-time factor (RTF).

Feeds a recording through the same pipeline as `ser listen --file PATH --speed 0` and reports
the mean and worst processing time per hop (speech and silence hops apart, since silence skips
the model), then times each stage once on a full window (for a voice model, also one speaker
encoder partial: listen runs one per 0.77 s of speech, on about two speech hops in three).

    python benchmarks/listen_rtf.py --model RUN_DIR examples/calm_low_slow.wav [--threads 2]

RTF = processing seconds / audio seconds; below 1 keeps up, and ser aims for 0.05 or less so a
laptop has room for everything else.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from ser_cli.audio.io import SAMPLE_RATE, load_audio
from ser_cli.inference.load import load_predictor
from ser_cli.listen.sources import FileSource
from ser_cli.listen.stream import ListenOptions, iter_updates

REPEATS = 20  # timing runs per stage in the breakdown


def _report(name: str, seconds: list[float], hop: float) -> None:
    if not seconds:
        print(f"{name:>8}: no hops")
        return
    mean, worst = statistics.fmean(seconds), max(seconds)
    print(
        f"{name:>8}: {len(seconds):4d} hops  mean {mean * 1000:7.2f} ms  max {worst * 1000:7.2f} ms  RTF mean {mean / hop:.4f} max {worst / hop:.4f}"
    )


def _time(func, *args) -> float:
    started = time.perf_counter()
    for _ in range(REPEATS):
        func(*args)
    return (time.perf_counter() - started) / REPEATS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wav", help="recording to stream (any format ser reads)")
    parser.add_argument("--model", default="default", help="run folder or 'default'")
    parser.add_argument(
        "--window", type=float, default=ListenOptions.window, help="seconds per prediction"
    )
    parser.add_argument(
        "--hop", type=float, default=ListenOptions.hop, help="seconds between updates"
    )
    parser.add_argument(
        "--threads", type=int, default=ListenOptions.threads, help="torch CPU threads (0: as is)"
    )
    parser.add_argument("--loops", type=int, default=1, help="stream the file this many times")
    args = parser.parse_args()

    import torch

    predictor = load_predictor(args.model)
    options = ListenOptions(window=args.window, hop=args.hop, threads=args.threads)
    speech, silence = [], []
    for _ in range(args.loops):
        for update in iter_updates(FileSource(args.wav, speed=0), predictor, options):
            if abs(update.hop - options.hop) < 1e-6:  # a shorter last hop would skew the RTF
                (speech if update.is_speech else silence).append(update.seconds)
    print(
        f"model {args.model} ({predictor.meta['model']}), window {options.window:g} s, hop {options.hop:g} s, torch threads {torch.get_num_threads()}"
    )
    _report("speech", speech, options.hop)
    _report("silence", silence, options.hop)
    _report("all", speech + silence, options.hop)

    audio = load_audio(args.wav)
    window = np.resize(audio, int(options.window * SAMPLE_RATE))  # a full window, repeated if short
    hop = window[-int(options.hop * SAMPLE_RATE) :]
    stages = [("vad", predictor.vad.speech_fraction, hop)]
    voice = None
    if predictor.voice_encoder is not None:  # listen embeds one new partial per 0.77 s of speech
        from ser_cli.features.voice_stream import PARTIAL_SAMPLES, partial_mel

        def embed_partial(samples):
            return predictor.voice_encoder(partial_mel(samples)[None])[0]

        voice = embed_partial(np.resize(audio, PARTIAL_SAMPLES))
        stages.append(("voice partial", embed_partial, np.resize(audio, PARTIAL_SAMPLES)))
    feats = predictor.features(window, voice=voice)
    stages.append(("features", lambda w: predictor.features(w, voice=voice), window))
    stages.append(("model", predictor.predict_batch, [feats]))
    print(
        "stages per hop (ms):",
        ", ".join(f"{name} {_time(f, a) * 1000:.2f}" for name, f, a in stages),
    )


if __name__ == "__main__":
    main()
