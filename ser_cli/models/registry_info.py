"""What `ser models` shows: each registered model, its size, when to pick it and what it scored.

The scores come from ``assets/model_scores.json``, which ``benchmarks/run.py table`` writes from
the cross-validation reports in ``benchmarks/results/cv-*.json`` (never typed by hand; a test
checks the two agree).
"""

from __future__ import annotations

import json
from pathlib import Path

from ser_cli.features.extract import FeatureConfig
from ser_cli.labels import EMOTIONS
from ser_cli.models import (
    BASELINE,
    MODELS,
    RECOMMENDED,
    build_model,
    count_parameters,
    model_config,
)

SCORES_FILE = Path(__file__).resolve().parents[1] / "assets" / "model_scores.json"
BENCHMARK = "speaker-disjoint 5-fold cross-validation on RAVDESS speech (20 actors, 1,200 clips)"
SCORED = {  # score name -> key in a cross-validation report's summary
    "accuracy": "metrics.accuracy",
    "uar": "metrics.uar",
    "macro_f1": "metrics.macro_f1",
    "accuracy_no_adapt": "metrics_no_adapt.accuracy",
}


def scores_from_cv_reports(reports: list[dict]) -> dict:
    """The ``model_scores.json`` content from ``ser train --cv`` reports (cv.json), one per model."""
    models = {}
    for report in sorted(reports, key=lambda r: r["model"]):
        summary = report["summary"]
        models[report["model"]] = {
            **{name: summary[key] for name, key in SCORED.items()},
            "folds": report["folds_run"],
            "epochs": report["config"]["train"]["epochs"],
            "measured": report.get("measured", ""),
            "command": report.get("command", ""),
        }
    return {"benchmark": BENCHMARK, "models": models}


def load_scores() -> dict:
    """{model: scores} from the packaged file; {} when it is missing."""
    try:
        return json.loads(SCORES_FILE.read_text())["models"]
    except (OSError, ValueError, KeyError):
        return {}


def describe_models() -> list[dict]:
    """One dict per model: name, summary, why, features it reads, parameters at the default mel bands,
    whether it is the recommended one, its cross-validated scores (None if never measured) and
    a note when it scores below the logistic-regression baseline."""
    scores = load_scores()
    baseline = scores.get(BASELINE, {}).get("accuracy", {}).get("mean")
    rows = []
    for name, spec in MODELS.items():
        dims = {"n_features": FeatureConfig().n_mels} if spec.features == "logmel" else {}
        cfg = model_config(name, n_classes=len(EMOTIONS), **dims)
        measured = scores.get(name)
        below = (
            measured is not None
            and baseline is not None
            and name != BASELINE
            and measured["accuracy"]["mean"] < baseline
        )
        rows.append(
            {
                "name": name,
                "summary": spec.summary,
                "why": spec.why,
                "features": spec.features,
                "fitter": spec.fitter,
                "parameters": count_parameters(build_model(name, cfg)),
                "recommended": name == RECOMMENDED,
                "cv": measured,
                "note": f"scores below the {BASELINE} logistic-regression baseline"
                if below
                else "",
            }
        )
    return rows
