"""Sessions: tests, lint, demo (the README's main job) and bench (the figures in docs/)."""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "shared", "data")


@nox.session
def tests(session: nox.Session) -> None:
    """Install the package with its test extra and run the whole suite (no network, no GPU)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting check."""
    session.install("ruff>=0.5")
    paths = ("ser_cli", "tests", "benchmarks", "examples", "noxfile.py")
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


# RAVDESS emotion codes (the third field of a RAVDESS name), as the corpus defines them
RAVDESS_EMOTIONS = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}


def true_emotion(path: str) -> str:
    """The emotion a RAVDESS clip's name records: ..._03-01-05-02-01-01-21.wav -> angry."""
    fields = os.path.basename(path).rsplit("_", 1)[-1].split(".")[0].split("-")
    return RAVDESS_EMOTIONS.get(fields[2], "?") if len(fields) == 7 else "?"


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: check the machine, then predict the example clips (real speech of actors
    the bundled model never heard) and show each file's true emotion beside the prediction."""
    import json

    session.install("-e", ".")
    session.run("ser", "doctor", success_codes=[0, 1])
    session.run("ser", "predict", "examples/", "--top-k", "3")
    result = os.path.join(session.create_tmp(), "examples.json")
    if os.path.exists(result):
        os.remove(result)  # -o never replaces a file
    session.run("ser", "predict", "examples/", "-o", result, silent=True)
    with open(result, encoding="utf-8") as fh:
        rows = json.load(fh)
    print(f"\n{'file':<44} {'true':<10} {'predicted':<10} confidence")
    for row in rows:
        truth, label = true_emotion(row["path"]), row["label"] or "error"
        top = max((row["probabilities"] or {"": 0.0}).values())
        mark = "✓" if label == truth else "✗"
        print(f"{os.path.basename(row['path']):<44} {truth:<10} {label:<10} {top:6.1%}  {mark}")
    right = sum(true_emotion(r["path"]) == r["label"] for r in rows)
    print(f"{right} of {len(rows)} right (chance: 1 in 8)")


@nox.session
def bench(session: nox.Session) -> None:
    """The docs' numbers: start-up, prepare, cross-validation, predict and listen timings.

    `nox -s bench -- cv` runs only the cross-validation table (about an hour on 2 cores).
    """
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/run.py", *session.posargs)
