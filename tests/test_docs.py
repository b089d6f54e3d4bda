"""What users read: README.md and docs/ show only figures written from benchmarks/results/.

Every table of figures sits between `<!-- table: NAME -->` markers and is what
`python benchmarks/tables.py` writes from the result files; a figure typed outside a table
(a percentage, a ratio, a calibration error, a rate) fails here, and so does a link to a file
that does not exist."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks/ sits beside the package, not in it
from benchmarks import tables  # noqa: E402

PAGES = [p for p in tables.pages() if p.exists()]
# Figures that are measurements, not settings ("16 kHz", "10 ms hop" and "2 s crops" are
# settings): percentages, ratios, probabilities and errors, rates, minutes.
TYPED = re.compile(r"\d+(\.\d+)?\s?%|\b\d+\.\d+x\b|\b0\.\d{2,}\b|\bclips/s\b|\d+(\.\d+)? min\b")
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")


def _rel(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_table_is_what_the_results_give(page):
    text = page.read_text()
    assert tables.render(text) == text, f"{_rel(page)}: run `python benchmarks/tables.py`"


def _without_recipe_names(text: str) -> str:
    """Recipe names are file names and `--set KEY=VALUE` flags are settings, not figures
    (`voice-60-epochs+corpus-weights+voice-l2-0.03` holds one); only the names of files in
    recipes/ and the values of `--set` flags are taken out."""
    text = re.sub(r"--set\s+[\w.]+=\S+", "--set SETTING", text)
    for name in sorted((p.stem for p in (ROOT / "recipes").glob("*.yaml")), key=len, reverse=True):
        text = text.replace(name, "RECIPE")
    return text


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_no_figure_is_typed_outside_a_table(page):
    prose = _without_recipe_names(tables.BLOCK.sub("", page.read_text()))
    typed = [m.group(0) for m in TYPED.finditer(prose)]
    assert not typed, f"{_rel(page)}: figures typed by hand {typed}; put them in a table"


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_links_point_at_files_that_exist(page):
    for match in LINK.finditer(page.read_text()):
        target = match.group(1)
        if "://" in target or target.startswith("mailto:"):
            continue
        path = (page.parent / target).resolve()
        assert path.exists(), f"{_rel(page)}: link to {target}, which does not exist"


def test_every_table_is_shown_and_the_readme_stays_short():
    shown = {m.group(2) for page in PAGES for m in tables.BLOCK.finditer(page.read_text())}
    assert shown == set(tables.TABLES)
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


def test_a_typed_figure_is_caught():
    assert TYPED.search("the ensemble scored 65.8% on the folds")
    assert TYPED.search("an ECE of 0.076") and TYPED.search("1.22x import torch")
    assert not TYPED.search("16 kHz audio, 40 mel bands, 10 ms hop, 2 s crops every 0.5 s")
    named = (
        "recipes/voice-60-epochs+corpus-weights+voice-l2-0.03.yaml "
        "(--set model_options.voice_l2=0.03) scored 0.031 ECE"
    )
    typed = [m.group(0) for m in TYPED.finditer(_without_recipe_names(named))]
    assert typed == ["0.031"]  # the ECE, not the name


def test_experiment_tables_keep_their_sources_when_the_bundle_recipe_changes(monkeypatch):
    """The left-out, crop-averaging and speech-check tables measured variants against one base
    recipe; pointing the bundle at another recipe must not change them or their sources."""
    names = ("left-out", "crop-averaging-loco", "loco-speech-check", "folds-speech-check")
    before = {name: tables.TABLES[name].render() for name in names}
    monkeypatch.setattr(tables, "_bundle_recipe", lambda: "a-recipe-with-no-result-files")
    monkeypatch.setattr(tables, "BUNDLE_RECIPE", "a-recipe-with-no-result-files")
    for name in names:
        assert tables.TABLES[name].render() == before[name]
        assert not any("a-recipe-with" in s for s in tables.TABLES[name].sources)


def test_the_headline_says_how_many_seeds_each_row_has():
    """The speech-check row's figures may rest on fewer seeds than the row above (fold models
    lost before it was measured); then it names its own counts."""
    assert tables._seeds_label(3, 3) == "3 seeds"
    assert tables._seeds_label(2, 3) == "2 seeds / 3 seeds"
    recipe = tables._bundle_recipe()
    counts = [
        len(tables._load(f"{w}-{recipe}.json")["seeds"]) for w in ("folds", "vad-misses-folds")
    ]
    loco = [
        len(tables._load(f"vad-misses-loco-{recipe}.json")["seeds"]),
        tables._load(f"loco-{recipe}.json")["summary"]["seeds"],
    ]
    checked_row = tables.headline().splitlines()[3]
    label = tables._seeds_label(counts[1], loco[0])
    assert (label in checked_row) == ((counts[1], loco[0]) != (counts[0], loco[1]))


def test_a_fold_student_is_shown_under_the_ensemble_that_taught_it(tmp_path, monkeypatch):
    """The speaker-folds table puts each `folds-distil` student under the `folds-ensemble` row
    of the seeds that taught it, with its own figures, and no row for a student of others."""
    import json
    import shutil

    recipe = "voice-60-epochs+corpus-weights+voice-l2-0.03"
    shutil.copytree(tables.RESULTS, tmp_path / "results")
    monkeypatch.setattr(tables, "RESULTS", tmp_path / "results")
    students = {
        "0": {"teachers": f"folds-ensemble-{recipe}-s1-2-3", "corpora": dict.fromkeys(
            ("ravdess", "emodb", "ased"), 0.123)},
        "5": {"teachers": f"folds-ensemble-{recipe}-s7-8", "corpora": dict.fromkeys(
            ("ravdess", "emodb", "ased"), 0.456)},
    }  # fmt: skip
    path = tmp_path / "results" / f"folds-distil-{recipe}.json"
    path.write_text(json.dumps({"seeds": students}))
    lines = tables.corpus_folds().splitlines()
    taught = [i for i, line in enumerate(lines) if "distilled from that ensemble" in line]
    assert len(taught) == 1 and "(seed 0)" in lines[taught[0]]
    assert lines[taught[0]].count("12.3%") == 3 and "45.6%" not in "\n".join(lines)
    assert "seeds 1, 2 and 3" in lines[taught[0] - 2]  # under the ensemble of its teachers


def test_the_ensemble_cost_table_reads_each_models_listen_report(tmp_path, monkeypatch):
    """`run.py ensemble-cost` keeps listen_rtf.py's report per model; the table takes the RTF
    of all hops and of speech hops from it, and the worst hop, beside the cold-start ratio."""
    import json

    def report(all_mean, speech_mean, worst):
        return [
            "model m (enhanced), window 2 s, hop 0.5 s, torch threads 2",
            f"  speech:  10 hops  mean 1 ms  max 2 ms  RTF mean {speech_mean} max {worst}",
            " silence:  10 hops  mean 1 ms  max 1 ms  RTF mean 0.0010 max 0.0020",
            f"     all:  20 hops  mean 1 ms  max 2 ms  RTF mean {all_mean} max {worst}",
        ]

    models = {
        "one network": {"onnx_bytes": 2_000_000, "predict_median_s": 0.3, "ratio": 0.2,
                        "listen": report("0.0111", "0.0222", "0.0333")},
        "3 in one ensemble": {"onnx_bytes": 5_000_000, "predict_median_s": 0.45, "ratio": 0.3,
                              "listen": report("0.0444", "0.0555", "0.0666")},
    }  # fmt: skip
    (tmp_path / "ensemble-cost.json").write_text(
        json.dumps({"import_torch_median_s": 1.5, "models": models})
    )
    monkeypatch.setattr(tables, "RESULTS", tmp_path)
    one, ensemble = tables.ensemble_cost().splitlines()[2:]
    assert one == "| one network | 2.0 MB | 0.30 s vs 1.50 s = 0.20x | 0.0111 | 0.0222 | 0.0333 |"
    assert ensemble.startswith("| 3 in one ensemble | 5.0 MB | 0.45 s vs 1.50 s = 0.30x | 0.0444")
