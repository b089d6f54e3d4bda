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


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: check the machine, then predict the example clips with the bundled model."""
    session.install("-e", ".")
    session.run("ser", "doctor", success_codes=[0, 1])
    session.run("ser", "predict", "examples/", "--top-k", "3")


@nox.session
def bench(session: nox.Session) -> None:
    """The docs' numbers: start-up, prepare, cross-validation, predict and listen timings.

    `nox -s bench -- cv` runs only the cross-validation table (about an hour on 2 cores).
    """
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/run.py", *session.posargs)
