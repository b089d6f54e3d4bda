"""Would pitch, voice quality and loudness statistics (eGeMAPS) add to the voice embedding on
corpora never heard? A probe before any training run: linear models on clip-level features,
leave one corpus out over RAVDESS 01-20, EmoDB and ASED, 4 classes (angry/happy/neutral/sad).

    python benchmarks/prosody_probe.py [--out bench-out/prosody-probe]

Needs ``pip install opensmile``: not a dependency of ser, because of what this probe found
(docs/corpora.md).

Features per clip (cached in --out; the manifest is corpora.py's): resemblyzer's voice
embedding (``features.voice``, 256 values) and openSMILE's eGeMAPSv02 functionals (88 values:
pitch, jitter, shimmer, harmonics to noise, formants, loudness and their statistics; Eyben et
al. 2016, built for comparing emotion corpora). For each corpus left out, a logistic regression (balanced class weights) is
fitted on the 4-class clips of the other two, each feature z-scored per training speaker, and
tested on every 4-class clip of the left-out corpus z-scored with the training clips' global
statistics: what ``ser predict`` does without ``--adapt``. Feature sets compared: voice,
egemaps, both. Results: benchmarks/results/prosody-probe.json.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from corpora import CORPORA, RESULTS, mix_manifest  # noqa: E402

from ser_cli.atomic import write_json  # noqa: E402
from ser_cli.audio.io import SAMPLE_RATE  # noqa: E402
from ser_cli.features.normalization import STD_FLOOR  # noqa: E402
from ser_cli.inference.label_mapping import FOUR_CLASSES  # noqa: E402


def clip_features(paths: list[str], cache: Path) -> dict[str, np.ndarray]:
    if cache.exists():
        with np.load(cache) as z:
            return {k: z[k] for k in z.files}
    import opensmile
    from rich.progress import track

    from ser_cli.audio.io import load_audio
    from ser_cli.features.voice import voice_embedding

    smile = opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02,
        feature_level=opensmile.FeatureLevel.Functionals,
    )
    voice, egemaps = [], []
    for path in track(paths, description="features"):
        x = load_audio(path)
        voice.append(voice_embedding(x))
        egemaps.append(smile.process_signal(x, SAMPLE_RATE).to_numpy()[0].astype(np.float32))
    out = {"voice": np.stack(voice), "egemaps": np.stack(egemaps)}
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, **out)
    tmp.replace(cache)
    return out


def zscore_by(x: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each group's rows z-scored with that group's own statistics (no labels used)."""
    out = np.empty_like(x)
    for g in np.unique(groups):
        rows = groups == g
        out[rows] = (x[rows] - x[rows].mean(0)) / np.maximum(x[rows].std(0), STD_FLOOR)
    return out


# How the left-out corpus is z-scored, as a user can have it: with the training data's
# statistics (ser predict), with those of all the files given together (--adapt all), or per
# speaker (--adapt folder, the user saying who speaks).
TEST_NORMS = ("global", "all files", "speaker")
STRENGTHS = (0.01, 0.1, 1.0)  # logistic regression's C (inverse regularisation)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench-out" / "prosody-probe")
    args = ap.parse_args()
    from sklearn.linear_model import LogisticRegression

    manifest = mix_manifest()
    with manifest.open() as f:
        rows = [r for r in csv.DictReader(f) if r["label"] in FOUR_CLASSES]
    feats = clip_features([r["path"] for r in rows], args.out / "features.npz")
    labels = np.array([r["label"] for r in rows])
    corpus = np.array([r["corpus"] for r in rows])
    speaker = np.array([r["speaker"] for r in rows])
    sets = {
        "voice": feats["voice"],
        "egemaps": feats["egemaps"],
        "voice+egemaps": np.concatenate([feats["voice"], feats["egemaps"]], axis=1),
    }
    results: dict = {}
    for c in STRENGTHS:
        for norm in TEST_NORMS:
            for name, x in sets.items():
                acc = {}
                for held in CORPORA:
                    train, test = corpus != held, corpus == held
                    clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
                    clf.fit(zscore_by(x[train], speaker[train]), labels[train])
                    if norm == "global":
                        mean, std = x[train].mean(0), np.maximum(x[train].std(0), STD_FLOOR)
                        xt = (x[test] - mean) / std
                    else:
                        xt = zscore_by(
                            x[test], corpus[test] if norm == "all files" else speaker[test]
                        )
                    acc[held] = float((clf.predict(xt) == labels[test]).mean())
                acc["mean"] = float(np.mean(list(acc.values())))
                results.setdefault(f"C={c:g}", {}).setdefault(norm, {})[name] = acc
                print(f"C={c:g}", norm, name, {k: f"{100 * v:.1f}" for k, v in acc.items()})
    out = {
        "command": "python benchmarks/prosody_probe.py",
        "clips": len(rows),
        "accuracy_4class": results,
    }
    write_json(RESULTS / "prosody-probe.json", out)


if __name__ == "__main__":
    main()
