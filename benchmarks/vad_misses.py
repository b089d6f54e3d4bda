"""How often `ser predict`'s speech check calls a clip of the shared corpora silence.

    python benchmarks/vad_misses.py

Every file `ser predict` classifies is first checked for speech (Silero, the bundled model's
detector; a stretch of MIN_SPEECH above SPEECH_THRESHOLD, ``ser_cli.audio.vad``). A clip with
none is a ``silence`` result, not an emotion. This runs that check on every clip of the mix
manifest (RAVDESS 01-20, EmoDB, ASED; ``python benchmarks/corpora.py`` prepares it) and counts
the clips called silence per corpus and label (results/vad-misses.json, with their files).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    from corpora import RESULTS, mix_manifest
    from rich.progress import track

    from ser_cli.audio.io import load_audio
    from ser_cli.data.manifest import read_manifest
    from ser_cli.inference.load import load_predictor

    vad = load_predictor("default").vad
    rows = read_manifest(mix_manifest())
    clips, missed, files = Counter(), Counter(), []
    started = time.perf_counter()
    for row in track(rows, description="speech check"):
        clips[row["corpus"]] += 1
        if not vad.has_speech(load_audio(row["path"], check_silence=False)):
            missed[(row["corpus"], row["label"])] += 1
            files.append(row["path"])
    out = {
        "measured": time.strftime("%Y-%m-%d %H:%M"),
        "seconds": round(time.perf_counter() - started, 1),
        "clips": dict(clips),
        "called_silence": {
            corpus: {
                "clips": sum(n for (c, _), n in missed.items() if c == corpus),
                "by_label": {lab: n for (c, lab), n in sorted(missed.items()) if c == corpus},
            }
            for corpus in clips
        },
        "files": files,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "vad-misses.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "files"}, indent=2))


if __name__ == "__main__":
    main()
