"""Every table of figures in README.md, docs/ and benchmarks/README.md, written from the result
files in benchmarks/results/, so no figure is ever typed by hand.

    python benchmarks/tables.py           # rewrite every marked block from the results
    python benchmarks/tables.py --check   # exit 1 when a page differs (tests/test_docs.py)

A page marks a block ``<!-- table: NAME -->`` ... ``<!-- /table -->``; NAME is a key of TABLES,
which says what the table shows, the result files it reads and the commands that measure them
(benchmarks/README.md's index is itself the table ``index``).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))

from benchmarks.recipes import (  # noqa: E402
    DEFAULT_RECIPE,
    REMOVED_AT,
    WHAT,
    recipe_names,
    summarise,
)
from benchmarks.run import CV_RECIPES  # noqa: E402

BLOCK = re.compile(r"(<!-- table: ([\w-]+) -->\n)(.*?)(<!-- /table -->)", re.S)


def pages() -> list[Path]:
    """The pages whose blocks this script writes."""
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        ROOT / "recipes" / "README.md",
        ROOT / "benchmarks" / "README.md",
    ]


def _load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


FOUR = "four_class_accuracy"  # a result's angry/happy/neutral/sad accuracy


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _count(n: int, noun: str) -> str:
    """The count and its noun: 1 seed, 3 seeds."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _ms(pair) -> str:
    """mean ± std (a one-element spread prints the mean alone)."""
    mean, std = pair
    return f"{mean:.1%} ± {std:.1%}"


def _local(command: str) -> str:
    """A recorded command with the measuring machine's data folder as the checkout sees it."""
    return re.sub(r"/\S*/shared/data/", "../shared/data/", command)


def _bundle_recipe() -> str:
    from benchmarks.train_default_model import read_bundle

    return read_bundle()[0].recipe


# The recipe the experiments' tables (left-out, crop averaging, speech check) measured their
# variants against: the bundled recipe when they were measured. Pinned, so that a new bundle
# recipe does not take those tables' source files away.
EXPERIMENTS_BASE = "voice-60-epochs+corpus-weights"

CORPUS_COLUMNS = ("ravdess", "emodb", "ased")  # the shared corpora, in the tables' column order

# The model bundled before issue 20: six RAVDESS-only networks (its per-fold ensemble's key in
# ensemble-mix.json; its other figures are loco-bundled.json and crosscorpus-emodb.json).
PREVIOUS_BUNDLE = "+".join(
    [f"utterance-norm-60-epochs:{s}" for s in range(3)]
    + [f"utterance-norm-100-epochs:{s}" for s in range(3)]
)


def _seeds_cell(values: list[float]) -> str:
    """mean ± std over seeds, or the value alone for one seed."""
    if len(values) == 1:
        return _pct(values[0])
    return _ms((float(np.mean(values)), float(np.std(values))))


def _recipe_link(name: str, prefix: str = "../") -> str:
    if name in recipe_names():
        return f"[`{name}`]({prefix}recipes/{name}.yaml)"
    return f"`{name}`"


# --- README -------------------------------------------------------------------------------------


def headline() -> str:
    """The bundled recipe on speakers and on whole corpora it never heard, beside the model
    bundled before it, one RAVDESS-only run and the classic baseline; no adaptation."""
    recipe = _bundle_recipe()
    loco_summary = _load(f"loco-{recipe}.json")["summary"]
    loco = loco_summary["four_class_accuracy"]
    folds = _load(f"folds-{recipe}.json")["seeds"].values()
    old_mix = _load("ensemble-mix.json")[PREVIOUS_BUNDLE]
    old_loco = _load("loco-bundled.json")["summary"]["four_class_accuracy"]
    single_loco = _load("loco-ravdess-only.json")["summary"]["four_class_accuracy"]
    single = summarise(_load(f"recipe-{DEFAULT_RECIPE}.json"))
    classic = _load("cv-classic.json")["summary"]
    corpora = CORPUS_COLUMNS
    fold_cells = " / ".join(_seeds_cell([f["corpora"][c] for f in folds]) for c in corpora)
    loco_cells = " / ".join(_ms(loco[c]) for c in (*corpora, "mean"))
    # the same models scored as `ser predict` gives them (benchmarks/vad_misses.py)
    checked = [
        list(_load(f"vad-misses-{what}-{recipe}.json")["seeds"].values())
        for what in ("folds", "loco")
    ]
    checked_folds = " / ".join(
        _seeds_cell([e[c]["with_speech_check"]["accuracy"] for e in checked[0]]) for c in corpora
    )
    checked_loco = " / ".join(
        _seeds_cell([e[c]["with_speech_check"][FOUR] for e in checked[1]])
        for c in (*corpora, "mean")
    )
    seeds = _seeds_label(len(folds), loco_summary["seeds"])
    checked_seeds = _seeds_label(len(checked[0]), len(checked[1]))
    # the speech-check row names its seeds where they are not the first row's
    checked_note = "" if checked_seeds == seeds else f"; {checked_seeds}"
    rows = [
        "| | unseen speakers (5 folds), own classes: RAVDESS (8) / EmoDB (6) / ASED (5) | "
        "unseen corpus (left out), 4 classes: RAVDESS / EmoDB / ASED / mean |",
        "|---|---|---|",
        f"| **the bundled model's recipe**: one network on RAVDESS + EmoDB + ASED "
        f"({_recipe_link(recipe, '')}; {seeds}) | "
        f"{fold_cells} | {loco_cells} |",
        f"| the same, as `ser predict` gives it (clips its speech check calls silence count "
        f"as wrong{checked_note}) | {checked_folds} | {checked_loco} |",
        f"| model bundled before: six networks, RAVDESS alone | {_pct(old_mix['cv_no_adapt'])} "
        f"/ - / - | - / {_pct(old_loco['emodb'][0])} / {_pct(old_loco['ased'][0])} / - |",
        f"| one run of `ser train` (RAVDESS alone, the default recipe, {single['seeds']} seeds) | "
        f"{_ms(single['cv_no_adapt'])} / - / - | - / {_ms(single_loco['emodb'])} / "
        f"{_ms(single_loco['ased'])} / - |",
        "| `classic` baseline (logistic regression, RAVDESS alone) | "
        f"{_ms(_pair(classic, 'metrics_no_adapt.accuracy'))} / - / - | not measured |",
    ]
    return "\n".join(rows)


def _seeds_label(folds: int, loco: int) -> str:
    """The seeds of a row: "3 seeds", or "2 seeds / 3 seeds" where the folds and the
    leave-one-corpus-out runs differ."""
    label = _count(folds, "seed")
    return label if folds == loco else f"{label} / {_count(loco, 'seed')}"


def _pair(summary: dict, key: str) -> tuple[float, float]:
    return summary[key]["mean"], summary[key]["std"]


def models() -> str:
    from ser_cli.models.registry_info import describe_models

    rows = [
        "| name | parameters | what it is | accuracy on unseen actors, adapted / not |",
        "|---|---|---|---|",
    ]
    for row in describe_models():
        cv = row["cv"]
        score = "not measured"
        if cv:
            score = f"{_pct(cv['accuracy']['mean'])} / {_pct(cv['accuracy_no_adapt']['mean'])}"
        name = f"**`{row['name']}`**" if row["recommended"] else f"`{row['name']}`"
        rows.append(f"| {name} | {row['parameters']:,} | {row['summary']} | {score} |")
    return "\n".join(rows)


# --- docs/accuracy.md ---------------------------------------------------------------------------


def cv_models() -> str:
    rows = [
        "| model | accuracy, adapted | UAR, adapted | macro-F1, adapted | accuracy, no adaptation "
        "| UAR, no adaptation | min per fold |",
        "|---|---|---|---|---|---|---|",
    ]
    for path in sorted(RESULTS.glob("cv-*.json")):
        r = json.loads(path.read_text())
        s = r["summary"]
        rows.append(
            f"| `{r['model']}` | {_ms(_pair(s, 'metrics.accuracy'))} | "
            f"{_ms(_pair(s, 'metrics.uar'))} | {_ms(_pair(s, 'metrics.macro_f1'))} | "
            f"{_ms(_pair(s, 'metrics_no_adapt.accuracy'))} | "
            f"{_ms(_pair(s, 'metrics_no_adapt.uar'))} | {s['seconds_per_fold']['mean'] / 60:.1f} |"
        )
    return "\n".join(rows)


def _recipe_rows(kept: bool) -> list[str]:
    rows = [
        "| recipe | what | seeds | RAVDESS folds | UAR | EmoDB 6 classes | EmoDB 4 classes | "
        "EmoDB ECE | 5-fold ensemble on EmoDB, 6 / 4 | min per seed (5 folds) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for path in sorted(RESULTS.glob("recipe-*.json")):
        name = path.stem.removeprefix("recipe-")
        if (name in recipe_names()) != kept:
            continue
        s = summarise(json.loads(path.read_text()))

        def f(pair, seeds=s["seeds"]):
            return _ms(pair) if seeds > 1 else _pct(pair[0])

        rows.append(
            f"| {_recipe_link(name)} | {WHAT.get(name, '')} | {s['seeds']} | "
            f"{f(s['cv_no_adapt'])} | {f(s['cv_no_adapt_uar'])} | {f(s['emodb6'])} | "
            f"{f(s['emodb4'])} | {s['emodb_ece'][0]:.3f} | {_pct(s['ensemble_emodb6'][0])} / "
            f"{_pct(s['ensemble_emodb4'][0])} | {s['minutes_per_seed']:.1f} |"
        )
    return rows


def recipes() -> str:
    return "\n".join(_recipe_rows(kept=True))


def removed() -> str:
    return "\n".join(_recipe_rows(kept=False))


def ensembles() -> str:
    rows = [
        "| ensemble | members | scored | RAVDESS folds | UAR | EmoDB 6 classes | "
        "EmoDB 4 classes | EmoDB ECE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path in sorted(RESULTS.glob("ensemble-*.json")):
        name = path.stem.removeprefix("ensemble-")
        saved = json.loads(path.read_text())
        if name == "mix":
            for key, e in saved.items():
                parts = ", ".join(
                    f"{r}:{m}" for r, m in zip(e["recipes"], e["members"], strict=True)
                )
                label = (
                    "the previous bundled model's members" if key == PREVIOUS_BUNDLE else "a mix"
                )
                rows.append(
                    f"| {label} | {parts} | 1 | {_pct(e['cv_no_adapt'])} | "
                    f"{_pct(e['cv_no_adapt_uar'])} | {_pct(e['emodb6'])} | {_pct(e['emodb4'])} | "
                    f"{e['emodb_ece']:.3f} |"
                )
            continue
        by_size: dict[int, list[dict]] = {}
        for entry in saved.values():
            by_size.setdefault(len(entry["members"]), []).append(entry)
        for size, entries in sorted(by_size.items()):

            def f(key, entries=entries):
                values = [e[key] for e in entries]
                spread = f" ± {np.std(values):.1%}" if len(values) > 1 else ""
                return f"{np.mean(values):.1%}{spread}"

            groups = ", ".join("+".join(map(str, e["members"])) for e in entries)
            rows.append(
                f"| {size} seeds of {_recipe_link(name)} | seeds {groups} | {len(entries)} | "
                f"{f('cv_no_adapt')} | {f('cv_no_adapt_uar')} | {f('emodb6')} | {f('emodb4')} | "
                f"{np.mean([e['emodb_ece'] for e in entries]):.3f} |"
            )
    return "\n".join(rows)


def crop_averaging() -> str:
    r = _load(f"crop-averaging-{DEFAULT_RECIPE}.json")["mean_std_over_seeds"]
    return "\n".join(
        [
            "| scored on | RAVDESS folds, no adaptation |",
            "|---|---|",
            f"| whole clips (what `ser predict` does) | {_ms(r['whole'])} |",
            f"| mean of 2 s crops every 0.5 s | {_ms(r['crops'])} |",
            f"| mean of both | {_ms(r['both'])} |",
        ]
    )


def _loco_seed_rows(seeds, picks) -> str:
    """A leave-one-corpus-out table from per-seed entries: one row per (label, pick), each
    cell the seeds' 4-class / own-class accuracy of ``pick(entry[corpus])``."""
    rows = [
        "| left-out corpus, 4 classes / own classes | RAVDESS | EmoDB | ASED | mean | seeds |",
        "|---|---|---|---|---|---|",
    ]
    for what, pick in picks:
        cells = [
            f"{_seeds_cell([pick(e[c])[FOUR] for e in seeds])} / "
            f"{_seeds_cell([pick(e[c])['accuracy'] for e in seeds])}"
            for c in ("ravdess", "emodb", "ased", "mean")
        ]
        rows.append(f"| {what} | {' | '.join(cells)} | {len(seeds)} |")
    return "\n".join(rows)


def crop_averaging_loco() -> str:
    """Test-time averages on the corpora the experiments' base recipe's LOCO models never
    heard."""
    seeds = list(_load(f"crop-averaging-loco-{EXPERIMENTS_BASE}.json")["seeds"].values())
    return _loco_seed_rows(
        seeds,
        [
            (what, lambda e, how=how: e[how])
            for how, what in (
                ("whole", "whole clips (what `ser predict` does)"),
                ("crops", "mean of 2 s crops every 0.5 s"),
                ("both", "mean of both"),
                ("stretch", "mean over the log-mel stretched in time to 0.9, 1 and 1.1"),
            )
        ],
    )


def _left_out_results() -> tuple[tuple[str, str], ...]:
    """benchmarks/left_out.py's result files shown, and the prefix of their rows."""
    return (
        (f"left-out-{EXPERIMENTS_BASE}.json", ""),
        (f"left-out-{EXPERIMENTS_BASE}+short-crops.json", "short crops in training: "),
        (f"left-out-{EXPERIMENTS_BASE}+short-cuts.json", "short cuts in training: "),
        (f"left-out-{EXPERIMENTS_BASE}+voice-l2.json", "voice prior (`voice_l2=0.1`): "),
        (f"left-out-{EXPERIMENTS_BASE}+voice-l2-0.03.json", "weak voice prior (`voice_l2=0.03`): "),
    )


def left_out() -> str:
    """The experiments' base recipe's LOCO models on the corpus each never heard: adapted, and
    on short cuts of each clip (benchmarks/left_out.py)."""
    views = (
        ("none", "whole clips, no adaptation (what `ser predict` does)"),
        ("all", "every clip of the corpus normalised together (`--adapt all`)"),
        ("speaker", "each speaker's clips normalised together (speaker identity given)"),
        ("1.0s", "1 s from the middle of each clip's speech, no adaptation"),
        ("0.5s", "0.5 s from the middle of each clip's speech, no adaptation"),
        ("1.0s+whole-voice", "the 1 s cut's log-mel, the whole clip's voice embedding"),
        ("0.5s+whole-voice", "the 0.5 s cut's log-mel, the whole clip's voice embedding"),
        (
            "speaker-mel-only",
            "each speaker's statistics for the log-mel only, the voice embedding "
            "normalised as `ser predict` does",
        ),
        (
            "speaker-voice-only",
            "each speaker's statistics for the voice embedding only, the "
            "log-mel normalised as `ser predict` does",
        ),
    )
    table = []
    for name, prefix in _left_out_results():
        if not (RESULTS / name).exists():
            continue
        seeds = list(_load(name)["seeds"].values())
        shown = [(h, w) for h, w in views if h in seeds[0]["ravdess"]]  # older files: fewer
        rows = _loco_seed_rows(
            seeds, [(prefix + what, lambda e, how=how: e[how]) for how, what in shown]
        ).splitlines()
        table += rows if not table else rows[2:]
    return "\n".join(table)


def prosody_probe() -> str:
    """Linear models on clip-level features, leave one corpus out: does eGeMAPS add to the voice
    embedding, as ser predict normalises and with unlabelled adaptation?"""
    saved = _load("prosody-probe.json")["accuracy_4class"]
    strengths = list(saved)
    rows = [
        f"| left-out corpus normalised with | features | RAVDESS | EmoDB | ASED | mean, {strengths[0]} | "
        + " | ".join(f"mean, {c}" for c in strengths[1:])
        + " |",
        "|---|---|---|---|---|---|" + "---|" * (len(strengths) - 1),
    ]
    how = {
        "global": "the training data's statistics (`ser predict`)",
        "all files": "all its files together (`--adapt all`)",
        "speaker": "each speaker's own (speaker identity given)",
    }
    for norm, sets in saved[strengths[0]].items():
        for name, acc in sets.items():
            others = " | ".join(_pct(saved[c][norm][name]["mean"]) for c in strengths[1:])
            rows.append(
                f"| {how[norm]} | {name} | {_pct(acc['ravdess'])} | {_pct(acc['emodb'])} | "
                f"{_pct(acc['ased'])} | {_pct(acc['mean'])} | {others} |"
            )
    return "\n".join(rows)


def voice_head_probe() -> str:
    """The voice head trained alone as the network trains it, leave one corpus out, with L2
    priors of several strengths (benchmarks/voice_head_probe.py)."""
    saved = _load("voice-head-probe.json")
    rows = [
        "| `model_options.voice_l2` | RAVDESS | EmoDB | ASED | mean | weight norm per class | seeds |",
        "|---|---|---|---|---|---|---|",
    ]
    for strength, entry in saved["voice_l2"].items():
        cells = [_seeds_cell(entry["accuracy"][c]) for c in CORPUS_COLUMNS]
        rows.append(
            f"| {strength} | {' | '.join(cells)} | {_pct(entry['mean'])} | "
            f"{np.mean(entry['weight_norm']):.2f} | {len(saved['seeds'])} |"
        )
    nets = saved["network_head_norms"]
    if nets:  # the networks' heads have 8 classes: only their size compares
        rows.append(
            f"| the kept recipe's networks, seed 0 (their voice heads) | - | - | - | - | "
            f"{np.mean(list(nets.values())):.2f} | 1 |"
        )
    return "\n".join(rows)


def voice_head_global_norm() -> str:
    """The same probe with a share of the training embeddings z-scored globally, as `ser
    predict` z-scores (benchmarks/voice_head_probe.py --global-norm)."""
    saved = _load("voice-head-probe-global-norm.json")
    rows = [
        "| `model_options.voice_l2` | share z-scored globally in training "
        "(`train.global_norm_prob`) | RAVDESS | EmoDB | ASED | mean | seeds |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, entry in saved["voice_l2_and_global_share"].items():
        strength, share = key.split()
        cells = [_seeds_cell(entry["accuracy"][c]) for c in CORPUS_COLUMNS]
        rows.append(
            f"| {strength} | {share} | {' | '.join(cells)} | {_pct(entry['mean'])} | "
            f"{len(saved['seeds'])} |"
        )
    return "\n".join(rows)


def crosscorpus() -> str:
    r = _load("crosscorpus-emodb.json")
    rows = [
        "| model bundled before, on EmoDB | accuracy (6) | UAR (6) | macro-F1 (6) | accuracy (4) | "
        "UAR (4) | ECE |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label in (("no_adapt", "no adaptation"), ("adapted", "per-speaker adaptation")):
        m, four = r[key], r[key]["four_class"]
        rows.append(
            f"| {label} | {_pct(m['accuracy'])} | {_pct(m['uar'])} | {_pct(m['macro_f1'])} | "
            f"{_pct(four['accuracy'])} | {_pct(four['uar'])} | {m['ece']:.3f} |"
        )
    b = _load("bundle-100-epochs-emodb.json")
    rows.append(
        f"| *its three 100-epoch members alone, no adaptation* | {_pct(b['accuracy'])} | "
        f"{_pct(b['uar'])} | - | {_pct(b['four_class_accuracy'])} | - | {b['ece']:.3f} |"
    )
    return "\n".join(rows)


LOCO_RESULTS = (
    ("loco-ravdess-only.json", "one network, RAVDESS 01-20 alone (the default recipe)"),
    ("loco-bundled.json", "the model bundled before (six RAVDESS-only networks)"),
    ("loco-mix-20-epochs.json", "one network, the other two corpora, 20 epochs"),
    (
        "loco-mix-20-epochs-unbalanced.json",
        "the same without corpus balancing (`train.corpus_balance=false`)",
    ),
    ("loco-default.json", "one network, the other two corpora, 60 epochs"),
    (
        "loco-voice-20-epochs.json",
        "one network + its voice head (`features.voice`), the other two corpora, 20 epochs",
    ),
    (
        "loco-ensemble-voice-20-epochs.json",
        "the ensemble of those seeds' networks (mean of probabilities)",
    ),
    ("loco-voice-60-epochs.json", "one network + its voice head, 60 epochs (the default schedule)"),
    (
        "loco-ensemble-voice-60-epochs.json",
        "the ensemble of those seeds' networks (mean of probabilities)",
    ),
    (
        "loco-distil-voice-60-epochs.json",
        "one network distilled from that ensemble (`train.teacher`)",
    ),
    (
        "loco-voice-60-epochs+corpus-weights.json",
        "one network + its voice head, 60 epochs, class weights within each corpus "
        "(`train.class_weights=corpus`)",
    ),
    (
        "loco-ensemble-voice-60-epochs+corpus-weights.json",
        "the ensemble of those seeds' networks (mean of probabilities)",
    ),
    (
        "loco-voice-60-epochs+corpus-weights+adversary.json",
        "the same one network, corpus-adversarial (`train.corpus_adversary=1`, measured and removed)",
    ),
    (
        "loco-voice-100-epochs+corpus-weights.json",
        "the same one network on a 100-epoch schedule (`train.epochs=100`)",
    ),
    (
        "loco-voice-60-epochs+corpus-weights+freq-masks.json",
        "the same one network, wider frequency masks (3 of up to 12 bands instead of 2 of up to 8)",
    ),
    (
        "loco-voice-60-epochs+corpus-weights-avx2.json",
        "the same one network, seed 0 trained again on the AVX2 CPU the next rows ran on",
    ),
    (
        "loco-voice-60-epochs+corpus-weights+mixstyle.json",
        "the same one network, MixStyle (`model_options.mixstyle=0.5`, measured and removed)",
    ),
    (
        "loco-voice-60-epochs+corpus-weights+tempo.json",
        "the same one network, wider tempo changes (0.8 to 1.25 instead of 0.9 to 1.1)",
    ),
    (
        "loco-voice-60-epochs+corpus-weights+short-crops.json",
        "the same one network, half its training crops cut to 0.5 to 2 s "
        "(`train.short_crop_prob=0.5`)",
    ),
    (
        "loco-voice-60-epochs+corpus-weights+short-cuts.json",
        "the same one network, half its training examples short cuts of 0.5 to 2 s beside the "
        "cut's own voice embedding (`train.short_cut_prob=0.5`)",
    ),
    (
        "loco-voice-60-epochs+corpus-weights+voice-l2.json",
        "the same one network, an L2 prior on its voice head (`model_options.voice_l2=0.1`)",
    ),
    (
        "loco-voice-60-epochs+corpus-weights+voice-l2-0.03.json",
        "the same one network, a weaker L2 prior on its voice head (`model_options.voice_l2=0.03`)",
    ),
)


def loco() -> str:
    """Leave-one-corpus-out, no adaptation: each corpus by a model that never heard it."""
    rows = [
        "| left-out corpus, 4 classes / own classes | RAVDESS | EmoDB | ASED | mean | seeds |",
        "|---|---|---|---|---|---|",
    ]
    for name, what in LOCO_RESULTS:
        if not (RESULTS / name).exists():
            continue
        saved = _load(name)
        s = saved["summary"]
        four, own = s["four_class_accuracy"], s["accuracy"]
        members = next(iter(saved["seeds"].values())).get("members")
        seeds = f"{len(members)} in one ensemble" if members else s["seeds"]
        fmt = _ms if s["seeds"] > 1 else (lambda pair: _pct(pair[0]))

        def cell(corpus, four=four, own=own, fmt=fmt):
            if corpus not in four:
                return "-"
            return f"{fmt(four[corpus])} / {fmt(own[corpus])}"

        rows.append(
            f"| {what} | {cell('ravdess')} | {cell('emodb')} | {cell('ased')} | "
            f"{cell('mean')} | {seeds} |"
        )
    return "\n".join(rows)


SHORT_RECIPE = "utterance-norm"  # the default recipe on a 20-epoch schedule
FOLD_RESULTS = (
    ("folds-voice-20-epochs.json", "one network + its voice head, the three corpora, 20 epochs"),
    ("folds-voice-60-epochs.json", "the same on the default 60-epoch schedule"),
    (
        "folds-voice-60-epochs+corpus-weights.json",
        "the same, class weights within each corpus (`train.class_weights=corpus`)",
    ),
    (
        "folds-voice-60-epochs+corpus-weights+short-cuts.json",
        "the same, half its training examples short cuts beside their own voice embedding "
        "(`train.short_cut_prob=0.5`)",
    ),
    (
        "folds-voice-60-epochs+corpus-weights+voice-l2-0.03.json",
        "the same as class weights within each corpus, a weak L2 prior on the voice head "
        "(`model_options.voice_l2=0.03`)",
    ),
)


FOLD_ENSEMBLES = (  # benchmarks/corpora.py folds-ensemble
    ("folds-ensemble-voice-60-epochs+corpus-weights+voice-l2-0.03.json", "weak voice prior"),
)


def corpus_folds() -> str:
    """Speaker folds with every corpus in training: each corpus's unseen speakers, own classes."""
    rows = [
        "| 5 speaker folds, own classes, no adaptation | RAVDESS (8 classes) | EmoDB | ASED | seeds |",
        "|---|---|---|---|---|",
    ]
    for recipe, what in (
        (DEFAULT_RECIPE, "one network, RAVDESS 01-20 alone (the default recipe, 60 epochs)"),
        (SHORT_RECIPE, "the same recipe on a 20-epoch schedule"),
    ):
        cv = [v["cv_no_adapt"] for v in _load(f"recipe-{recipe}.json")["seeds"].values()]
        rows.append(
            f"| {what} | {_ms((float(np.mean(cv)), float(np.std(cv))))} | - | - | {len(cv)} |"
        )
    for name, what in FOLD_RESULTS:
        if not (RESULTS / name).exists():
            continue
        seeds = _load(name)["seeds"].values()
        cells = []
        for corpus in CORPUS_COLUMNS:
            cells.append(_seeds_cell([s["corpora"][corpus] for s in seeds]))
        rows.append(f"| {what} | {' | '.join(cells)} | {len(seeds)} |")
    for name, what in FOLD_ENSEMBLES:
        if not (RESULTS / name).exists():
            continue
        for entry in _load(name)["seeds"].values():
            members = [s.rsplit("-s", 1)[1] for s in entry["members"]]
            alone = list(entry["one_network"].values())
            seeds = " and ".join([", ".join(members[:-1]), members[-1]])
            rows.append(
                f"| {what}: seeds {seeds} one network at a time | "
                + " | ".join(_seeds_cell([a[c] for a in alone]) for c in CORPUS_COLUMNS)
                + f" | {len(alone)} |"
            )
            rows.append(
                f"| {what}: the same seeds' networks fold by fold in one ensemble (mean of "
                "probabilities) | "
                + " | ".join(_pct(entry["corpora"][c]) for c in CORPUS_COLUMNS)
                + f" | {len(members)} in one ensemble |"
            )
            rows += _fold_students(name, entry, what)
    return "\n".join(rows)


def _fold_students(ensembles: str, entry: dict, what: str) -> list[str]:
    """The speaker-folds rows of the students (`corpora.py folds-distil`) that one of
    ``ensembles``' entries taught: one network per fold, trained on that fold's ensemble."""
    distilled = ensembles.replace("folds-ensemble-", "folds-distil-", 1)
    if not (RESULTS / distilled).exists():
        return []
    teachers = entry["members"][0].rsplit("-s", 1)[0].replace("folds-", "folds-ensemble-", 1)
    teachers += "-s" + "-".join(m.rsplit("-s", 1)[1] for m in entry["members"])
    return [
        f"| {what}: one network per fold (seed {seed}) distilled from that ensemble "
        "(`train.teacher`) | "
        + " | ".join(_pct(student["corpora"][c]) for c in CORPUS_COLUMNS)
        + " | 1 |"
        for seed, student in _load(distilled)["seeds"].items()
        if student["teachers"] == teachers
    ]


def emodb_recall() -> str:
    r = _load("crosscorpus-emodb.json")
    labels = list(r["no_adapt"]["recall"])
    rows = ["| recall on EmoDB | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for key, label in (("no_adapt", "no adaptation"), ("adapted", "adapted")):
        rows.append(f"| {label} | " + " | ".join(_pct(r[key]["recall"][k]) for k in labels) + " |")
    return "\n".join(rows)


def eval_vs_predict() -> str:
    r = _load("eval-vs-predict.json")
    rows = [
        "| | `ser eval` accuracy | `ser predict` accuracy | labels differing | "
        "of them called silence by predict | largest probability difference (the rest) |",
        "|---|---|---|---|---|---|",
    ]
    for key in ("no_adapt", "adapted"):
        m = r[key]
        rows.append(
            f"| {m['commands']} | {_pct(m['eval_accuracy'])} | {_pct(m['predict_accuracy'])} | "
            f"{m['labels_differing']} | {m.get('called_silence', 0)} | "
            f"{m['max_abs_probability_difference']:.1e} |"
        )
    return "\n".join(rows)


# --- docs/speed.md, docs/ray.md, docs/calibration.md --------------------------------------------


def speed() -> str:
    startup, prepare = _load("startup.json"), _load("prepare.json")
    predict, onnx = _load("predict.json"), _load("onnx.json")
    through, resample = _load("predict-throughput.json"), _load("resample.json")
    rows = [
        "| what | measured |",
        "|---|---|",
        f"| `ser --help` wall time | {startup['best_s']:.2f} s best, {startup['median_s']:.2f} s median |",
        f"| `ser prepare` on {prepare['clips']:,} RAVDESS clips (`--folds 5`) | "
        f"{prepare['median_s']:.1f} s median |",
        f"| `ser predict` on one clip, cold (the bundled model: its shipped ONNX export), vs "
        f'`python -c "import torch"` | '
        f"{predict['predict_median_s']:.2f} s vs {predict['import_torch_median_s']:.2f} s "
        f"= {predict['ratio']:.2f}x |",
        f"| the same with a fresh `ser export` of it (`--model default.onnx`) | "
        f"{onnx['onnx_predict_median_s']:.2f} s vs {onnx['import_torch_median_s']:.2f} s = "
        f"{onnx['onnx_ratio']:.2f}x |",
        f"| the same with its run folder in torch (`--model ser_cli/assets/default_model`) | "
        f"{onnx['torch_predict_median_s']:.2f} s vs {onnx['import_torch_median_s']:.2f} s = "
        f"{onnx['torch_ratio']:.2f}x |",
        f"| ONNX vs torch probabilities, bundled model | largest difference "
        f"{onnx['max_abs_prob_diff_examples']:.1e} on the examples, "
        f"{onnx['max_abs_prob_diff_real']:.1e} on {onnx['real_clips']} RAVDESS clips; top labels "
        f"changed: {onnx['top_label_changes_examples'] + onnx['top_label_changes_real']} |",
        f"| `ser predict` on {through['clips']} RAVDESS clips, JSON out | "
        f"{through['cli_clips_per_s']:.1f} clips/s end to end; the model alone "
        f"{through['model_batched_clips_per_s']:.0f} clips/s batched, "
        f"{through['model_one_at_a_time_clips_per_s']:.0f} one at a time |",
        f"| resampling {resample['resample']['seconds_of_audio']:g} s of audio "
        f"{resample['resample']['from_hz']:,} Hz to 16 kHz (soxr) | "
        f"{resample['resample']['median_ms']:.1f} ms median |",
        f"| `ser predict` on {resample['predict']['clips']} clips of "
        f"{resample['predict']['clip_seconds']:g} s stored at "
        f"{resample['resample']['from_hz']:,} Hz vs at 16 kHz | "
        f"{resample['predict']['at_24414']['best_wall_s']:.2f} s vs "
        f"{resample['predict']['native_16k']['best_wall_s']:.2f} s = "
        f"{resample['predict']['ratio_best_wall']:.2f}x |",
    ]
    return "\n".join(rows)


def guard_overhead() -> str:
    data = _load("guard-overhead.json")
    rows = ["| cold start | before | after | after / before |", "|---|---|---|---|"]
    for key, what in (("help", "`ser --help`"), ("predict", f"`ser predict {data['clip']}`")):
        r = data[key]
        rows.append(
            f"| {what} | {r['before_median_s']:.2f} s | {r['after_median_s']:.2f} s | "
            f"{r['ratio']:.2f}x |"
        )
    rows.append(f"| the added checks alone, in process | | {data['added_checks_ms']:.2f} ms | |")
    return "\n".join(rows)


def vad_misses() -> str:
    """Clips of the shared corpora that `ser predict`'s speech check calls silence."""
    r = _load("vad-misses.json")
    rows = [
        "| corpus | clips | called silence | by label |",
        "|---|---|---|---|",
    ]
    for corpus, missed in r["called_silence"].items():
        labels = ", ".join(f"{label} {n}" for label, n in missed["by_label"].items()) or "-"
        rows.append(
            f"| {corpus} | {r['clips'][corpus]:,} | {missed['clips']} "
            f"({_pct(missed['clips'] / r['clips'][corpus])}) | {labels} |"
        )
    return "\n".join(rows)


def vad_sweep() -> str:
    """Speech called silence against non-speech let through, for each threshold measured."""
    r = _load("vad-misses.json")
    corpora = list(r["clips"])
    rows = [
        "| a stretch of speech starts at | "
        + " | ".join(f"{c} clips called silence (of {r['clips'][c]:,})" for c in corpora)
        + f" | non-speech let through (of {r['non_speech']}) |",
        "|---" * (len(corpora) + 2) + "|",
    ]
    for threshold, entry in r["sweep"].items():
        mark = " (the check)" if float(threshold) == r["threshold"] else ""
        counts = " | ".join(str(entry["called_silence"][c]["clips"]) for c in corpora)
        passed = entry["non_speech_passed"]
        kinds = sorted({name.split(" #")[0] for name in passed})
        what = f"{len(passed)}: {', '.join(kinds)}" if passed else "0"
        rows.append(f"| {threshold}{mark} | {counts} | {what} |")
    return "\n".join(rows)


# vad_misses.py --loco/--folds runs measured beside the experiments' base, and their rows' prefix
SPEECH_CHECK_VARIANTS = (("+voice-l2-0.03", "weak voice prior (`voice_l2=0.03`): "),)


def _speech_check_file(kind: str, run: str) -> str:
    """benchmarks/vad_misses.py --KIND RUN's result file."""
    return f"vad-misses-{kind}-{run}.json"


def _speech_check_runs(kind: str) -> list[tuple[str, str]]:
    """The experiments' base run, then each variant with a vad-misses-KIND result:
    (run name, row prefix)."""
    variants = [(EXPERIMENTS_BASE + suffix, prefix) for suffix, prefix in SPEECH_CHECK_VARIANTS]
    return [(EXPERIMENTS_BASE, "")] + [
        (run, prefix)
        for run, prefix in variants
        if (RESULTS / _speech_check_file(kind, run)).exists()
    ]


def _speech_check_files(kind: str) -> list[tuple[str, str]]:
    """_speech_check_runs' result files: (file name, row prefix)."""
    return [(_speech_check_file(kind, run), prefix) for run, prefix in _speech_check_runs(kind)]


def loco_speech_check() -> str:
    """Leave-one-corpus-out of the experiments' base recipe (and measured variants), as `ser
    eval` scores it and as `ser predict` gives it (clips its speech check calls silence counted
    wrong)."""
    table: list[str] = []
    for name, prefix in _speech_check_files("loco"):
        seeds = list(_load(name)["seeds"].values())
        rows = _loco_seed_rows(
            seeds,
            [
                (prefix + "every clip classified (`ser eval`, the tables above)", lambda e: e),
                (
                    prefix + "as `ser predict` gave it with Silero's own threshold (0.5): "
                    "clips its speech check called silence count as wrong",
                    lambda e: e["with_silero_default"],
                ),
                (
                    prefix + "as `ser predict` gives it (speech from 0.3): clips its speech "
                    "check calls silence count as wrong",
                    lambda e: e["with_speech_check"],
                ),
            ],
        ).splitlines()
        table += rows if not table else rows[2:]
    return "\n".join(table)


def folds_speech_check() -> str:
    """The experiments' base recipe's speaker folds (and measured variants'), as `ser eval`
    scores them and as `ser predict` gives them (clips its speech check calls silence counted
    wrong)."""
    rows = [
        "| 5 speaker folds, own classes | RAVDESS (8 classes) | EmoDB | ASED | seeds |",
        "|---|---|---|---|---|",
    ]
    for name, prefix in _speech_check_files("folds"):
        seeds = _load(name)["seeds"].values()
        for what, pick in (
            ("every clip classified (`ser eval`, the table above)", lambda e: e),
            (
                "as `ser predict` gave it with Silero's own threshold (0.5)",
                lambda e: e["with_silero_default"],
            ),
            ("as `ser predict` gives it (speech from 0.3)", lambda e: e["with_speech_check"]),
        ):
            cells = [_seeds_cell([pick(e[c])["accuracy"] for e in seeds]) for c in CORPUS_COLUMNS]
            rows.append(f"| {prefix}{what} | {' | '.join(cells)} | {len(seeds)} |")
    return "\n".join(rows)


def listen() -> str:
    return "```\n" + "\n".join(_load("listen.json")["output"]) + "\n```"


def ensemble_cost() -> str:
    """One network against an ensemble of several, each as an ONNX export on the CPU."""
    r = _load("ensemble-cost.json")
    rows = [
        "| ONNX export | size | cold `ser predict` vs `import torch` | `ser listen` RTF mean, "
        "all hops | speech hops | worst hop |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in r["models"].items():
        rtf = {
            line.split(":")[0].strip(): re.search(r"RTF mean (\S+) max (\S+)", line).groups()
            for line in m["listen"]
            if "RTF mean" in line
        }
        rows.append(
            f"| {name} | {m['onnx_bytes'] / 1e6:.1f} MB | {m['predict_median_s']:.2f} s vs "
            f"{r['import_torch_median_s']:.2f} s = {m['ratio']:.2f}x | {rtf['all'][0]} | "
            f"{rtf['speech'][0]} | {rtf['all'][1]} |"
        )
    return "\n".join(rows)


def ray() -> str:
    r = _load("ray-default.json")
    return "\n".join(
        [
            f"| {r['clips']:,} RAVDESS clips | seconds | clips/s |",
            "|---|---|---|",
            f"| one process | {r['single_s']:.1f} | {r['single_clips_per_s']:.1f} |",
            f"| `--engine ray --actors 2` | {r['ray_s']:.1f} | {r['ray_clips_per_s']:.1f} |",
        ]
    )


def calibration() -> str:
    meta = json.loads((ROOT / "ser_cli" / "assets" / "default_model" / "best.json").read_text())
    cal = meta["calibration"]
    return "\n".join(
        [
            "| bundled model | temperature | ECE before | ECE after |",
            "|---|---|---|---|",
            f"| out-of-fold predictions of its corpora ({cal['clips']:,} clips) | "
            f"{cal['temperature']:.3f} | {cal['val_ece_before']:.3f} | {cal['val_ece_after']:.3f} |",
        ]
    )


# --- docs/long-recordings.md --------------------------------------------------------------------


def segmentation() -> str:
    r = _load("segmentation.json")
    a, b, t = r["accuracy"], r["larger_ased"], r["throughput"]
    tol = f"{r['tolerance_seconds']:g} s"

    def boundaries(m: dict) -> str:
        return (
            f"{m['found_within_tolerance']} of {m['utterances']} utterances, "
            f"{m['pauses_marked_silence']} of {m['pauses']} pauses"
        )

    def accuracy(m: dict) -> str:
        return f"{_pct(m['per_utterance_accuracy'])} vs {_pct(m['one_by_one_accuracy'])}"

    return "\n".join(
        [
            f"| recording | found within {tol} | accuracy of `{r['model']}`: by utterance vs "
            "clip by clip |",
            "|---|---|---|",
            f"| 12 held-out clips (8 RAVDESS examples + 4 ASED), {a['recording_seconds']:.0f} s | "
            f"{boundaries(a)} | {accuracy(a)} |",
            f"| {b['utterances']} more ASED clips in {b['recordings']} recordings | "
            f"{boundaries(b)} | {accuracy(b)} |",
            "",
            f"| {t['recording_seconds'] / 60:.1f} min, {t['utterances']} utterances "
            "| seconds | peak memory |",
            "|---|---|---|",
            f"| `--segment fixed` (8 s windows every 4 s) | {t['fixed']['seconds']:.1f} | "
            f"{t['fixed']['peak_rss_mb']:.0f} MB |",
            f"| `--segment vad` | {t['vad']['seconds']:.1f} "
            f"(= {t['vad_over_fixed_time']:.2f}x fixed; real-time factor "
            f"{t['vad_real_time_factor']:.3f}) | {t['vad']['peak_rss_mb']:.0f} MB |",
            f"| `--segment vad`, the first third of the recording | "
            f"{t['vad_on_a_third']['seconds']:.1f} | {t['vad_on_a_third']['peak_rss_mb']:.0f} MB |",
        ]
    )


def segmentation_context() -> str:
    r = _load("segmentation.json")
    a, b, m, sh = r["accuracy"], r["larger_ased"], r["trim_margins"], r["start_shifts"]
    runs = [
        {
            "context_seconds": r["context_seconds"],
            "held_out_per_utterance_accuracy": a["per_utterance_accuracy"],
            "held_out_same_label_as_one_by_one": a["same_label_as_one_by_one"],
            "larger_ased_per_utterance_accuracy": b["per_utterance_accuracy"],
            "larger_ased_same_label_as_one_by_one": b["same_label_as_one_by_one"],
        },
        *r["other_contexts"],
    ]

    def context(seconds: float) -> str:
        if seconds == r["context_seconds"]:
            return f"**{seconds:g} s** (`CONTEXT`, the default)"
        return f"{seconds:g} s" + (" (before issue 21)" if seconds == 0 else "")

    def margin(row: dict) -> str:
        return (
            f"{row['median']:.2f} s | {row['p75']:.2f} s | {row['p90']:.2f} s | "
            f"{_pct(row['share_outside_silero'])} |"
        )

    lines = [
        "| context on each side of an utterance | 12 held-out clips: by utterance; "
        f"labelled as alone (of {a['utterances']}) | {b['utterances']} more ASED clips: "
        f"by utterance; labelled as alone (of {b['utterances']}) |",
        "|---|---|---|",
        *(
            f"| {context(x['context_seconds'])} | {_pct(x['held_out_per_utterance_accuracy'])}; "
            f"{x['held_out_same_label_as_one_by_one']} | "
            f"{_pct(x['larger_ased_per_utterance_accuracy'])}; "
            f"{x['larger_ased_same_label_as_one_by_one']} |"
            for x in sorted(runs, key=lambda x: x["context_seconds"])
        ),
        f"| each clip alone (the reference) | {_pct(a['one_by_one_accuracy'])} | "
        f"{_pct(b['one_by_one_accuracy'])} |",
        "",
        f"| the model's silence trim against Silero's speech, {m['clips']} training clips "
        "| median | 75th percentile | 90th percentile | clips where the trim reaches outside |",
        "|---|---|---|---|---|",
        f"| trim starts before Silero's start by | {margin(m['trim_starts_before_silero_s'])}",
        f"| trim ends after Silero's end by | {margin(m['trim_ends_after_silero_s'])}",
        "",
        f"The 12 clips alone, each with its first 0 to {max(sh['shifts_samples'])} samples cut "
        f"(less than one 10 ms feature hop): {sh['clips_whose_label_changes']} of {sh['clips']} "
        "change label.",
    ]
    return "\n".join(lines)


# --- benchmarks/README.md -----------------------------------------------------------------------


def index() -> str:
    used: dict[str, list[str]] = {}
    for page in pages():
        for match in BLOCK.finditer(page.read_text()):
            used.setdefault(match.group(2), []).append(str(page.relative_to(ROOT)))
    rows = ["| table | on | result files | measured by |", "|---|---|---|---|"]
    for name, table in TABLES.items():
        if name == "index":
            continue
        where = ", ".join(f"[{p}](../{p})" for p in used.get(name, [])) or "(unused)"
        files = ", ".join(_source_link(f) for f in table.sources)
        commands = "<br>".join(f"`{c}`" for c in table.commands)
        rows.append(f"| `{name}` | {where} | {files} | {commands} |")
    return "\n".join(rows)


def _source_link(source: str) -> str:
    """A source as a link from benchmarks/README.md (a glob stays plain text)."""
    if "*" in source:
        return f"`results/{source}`"
    target = f"../{source}" if "/" in source else f"results/{source}"
    return f"[{source}]({target})"


# Result files that record no command of their own: the script that wrote them.
WRITTEN_BY = {
    "eval-vs-predict.json": "python benchmarks/eval_vs_predict.py",
    "vad-misses.json": "python benchmarks/vad_misses.py",
    # written before vad_misses.py recorded its command
    **{
        _speech_check_file(kind, EXPERIMENTS_BASE): (
            f"python benchmarks/vad_misses.py --{kind} {EXPERIMENTS_BASE}"
        )
        for kind in ("loco", "folds")
    },
    "resample.json": "python benchmarks/resample.py",
}


def commands() -> str:
    """Each result file and the command its figures came from."""
    rows = ["| result file | measured by |", "|---|---|"]
    for path in sorted(RESULTS.glob("*.json")):
        rows.append(f"| [{path.name}](results/{path.name}) | {_command_for(path)} |")
    return "\n".join(rows)


def _command_for(path: Path) -> str:
    name = path.stem.removeprefix("recipe-")
    if path.name.startswith("recipe-"):
        run = f"`python benchmarks/recipes.py {name}`"
        if name in recipe_names():
            return f"{run}: `ser train --config recipes/{name}.yaml --cv 5 --seed S` per seed"
        return f"{run} at commit {REMOVED_AT} (its options left the code since)"
    model = path.stem.removeprefix("cv-")
    if path.name.startswith("cv-") and model in CV_RECIPES:
        return (
            f"`python benchmarks/run.py cv {model}`: `ser train --config "
            f"recipes/{CV_RECIPES[model]}.yaml --cv 5`"
        )
    if path.name in WRITTEN_BY:
        return f"`{WRITTEN_BY[path.name]}`"
    found = _recorded_commands(json.loads(path.read_text()))
    return "<br>".join(f"`{_local(command)}`" for command in found)


def _recorded_commands(data) -> list[str]:
    """Every distinct ``command``/``*_command``/``commands`` value in a result file."""
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "commands" and isinstance(value, list):
                    found.extend(v for v in value if isinstance(v, str))
                elif (key == "command" or key.endswith("_command")) and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class Table:
    render: Callable[[], str]
    sources: tuple[str, ...]  # files in benchmarks/results/ (or paths from the checkout's root)
    commands: tuple[str, ...]  # what measures them


RECIPE_CMD = "python benchmarks/recipes.py RECIPE"
BUNDLE_RECIPE = _bundle_recipe()
TABLES: dict[str, Table] = {
    "headline": Table(
        headline,
        (
            f"loco-{BUNDLE_RECIPE}.json",
            f"folds-{BUNDLE_RECIPE}.json",
            f"vad-misses-folds-{BUNDLE_RECIPE}.json",
            f"vad-misses-loco-{BUNDLE_RECIPE}.json",
            "ensemble-mix.json",
            "loco-bundled.json",
            "loco-ravdess-only.json",
            f"recipe-{DEFAULT_RECIPE}.json",
            "cv-classic.json",
        ),
        (
            "python benchmarks/corpora.py loco --seeds 0 1 2 --name RECIPE --set KEY=VALUE ... "
            "(the bundled recipe: recipes/bundle.yaml)",
            "python benchmarks/corpora.py folds --seeds 0 --name RECIPE --set KEY=VALUE ...",
            "python benchmarks/vad_misses.py --folds RECIPE, --loco RECIPE (as `ser predict` "
            "gives it)",
            "python benchmarks/recipes.py mix MEMBERS (the model bundled before)",
            "python benchmarks/corpora.py ravdess-only --seeds 0 1 2",
            f"python benchmarks/recipes.py {DEFAULT_RECIPE}",
            "python benchmarks/run.py cv classic",
        ),
    ),
    "models": Table(models, ("cv-*.json",), ("python benchmarks/run.py cv", "ser models")),
    "loco": Table(
        loco,
        ("loco-*.json",),
        (
            "python benchmarks/corpora.py loco --seeds 0 1 2",
            "python benchmarks/corpora.py ravdess-only --seeds 0 1 2",
            "python benchmarks/corpora.py loco-ensemble --seeds 0 1 2 --name NAME",
            "python benchmarks/corpora.py loco-distil --seeds 0 1 2 --name NAME",
        ),
    ),
    "corpus-folds": Table(
        corpus_folds,
        ("folds-*.json", f"recipe-{DEFAULT_RECIPE}.json", f"recipe-{SHORT_RECIPE}.json"),
        (
            "python benchmarks/corpora.py folds --name voice-20-epochs --set features.voice=true "
            "--set train.epochs=20",
            "python benchmarks/corpora.py folds --name voice-60-epochs --set features.voice=true",
            "python benchmarks/corpora.py folds --name voice-60-epochs+corpus-weights "
            "--set features.voice=true --set train.class_weights=corpus",
            "python benchmarks/corpora.py folds --name voice-60-epochs+corpus-weights+short-cuts "
            "--set features.voice=true --set train.class_weights=corpus "
            "--set train.short_cut_prob=0.5",
            "python benchmarks/corpora.py folds --name voice-60-epochs+corpus-weights+voice-l2-0.03 "
            "--set features.voice=true --set train.class_weights=corpus "
            "--set model_options.voice_l2=0.03",
            "python benchmarks/corpora.py folds-ensemble --seeds 1 2 "
            "--name voice-60-epochs+corpus-weights+voice-l2-0.03",
            "python benchmarks/corpora.py folds-ensemble --seeds 1 2 3 "
            "--name voice-60-epochs+corpus-weights+voice-l2-0.03",
            "python benchmarks/corpora.py folds-distil --seeds 1 2 3 "
            "--name voice-60-epochs+corpus-weights+voice-l2-0.03 --set features.voice=true "
            "--set train.class_weights=corpus --set model_options.voice_l2=0.03",
            RECIPE_CMD.replace("RECIPE", DEFAULT_RECIPE),
            RECIPE_CMD.replace("RECIPE", SHORT_RECIPE),
        ),
    ),
    "cv-models": Table(cv_models, ("cv-*.json",), ("python benchmarks/run.py cv [MODEL ...]",)),
    "recipes": Table(recipes, ("recipe-*.json",), (RECIPE_CMD,)),
    "removed": Table(
        removed,
        ("recipe-*.json",),
        (f"git checkout {REMOVED_AT} && {RECIPE_CMD}",),
    ),
    "ensembles": Table(
        ensembles,
        ("ensemble-*.json",),
        (
            "python benchmarks/recipes.py ensemble RECIPE",
            "python benchmarks/recipes.py mix RECIPE:SEED ...",
        ),
    ),
    "prosody-probe": Table(
        prosody_probe, ("prosody-probe.json",), ("python benchmarks/prosody_probe.py",)
    ),
    "voice-head-probe": Table(
        voice_head_probe,
        ("voice-head-probe.json",),
        ("python benchmarks/voice_head_probe.py --seeds 0 1 2",),
    ),
    "voice-head-global-norm": Table(
        voice_head_global_norm,
        ("voice-head-probe-global-norm.json",),
        ("python benchmarks/voice_head_probe.py --global-norm --seeds 0 1 2",),
    ),
    "left-out": Table(
        left_out,
        tuple(name for name, _ in _left_out_results()),
        (
            f"python benchmarks/left_out.py {EXPERIMENTS_BASE}",
            f"python benchmarks/left_out.py {EXPERIMENTS_BASE}+short-crops",
            f"python benchmarks/left_out.py {EXPERIMENTS_BASE}+short-cuts",
            f"python benchmarks/left_out.py {EXPERIMENTS_BASE}+voice-l2",
            f"python benchmarks/left_out.py {EXPERIMENTS_BASE}+voice-l2-0.03",
        ),
    ),
    "crop-averaging-loco": Table(
        crop_averaging_loco,
        (f"crop-averaging-loco-{EXPERIMENTS_BASE}.json",),
        (f"python benchmarks/crop_averaging.py --loco {EXPERIMENTS_BASE}",),
    ),
    "crop-averaging": Table(
        crop_averaging,
        (f"crop-averaging-{DEFAULT_RECIPE}.json",),
        (f"python benchmarks/crop_averaging.py {DEFAULT_RECIPE}",),
    ),
    "crosscorpus": Table(
        crosscorpus,
        ("crosscorpus-emodb.json", "bundle-100-epochs-emodb.json"),
        ("python benchmarks/run.py crosscorpus", "(the commands listed in the second file)"),
    ),
    "emodb-recall": Table(
        emodb_recall, ("crosscorpus-emodb.json",), ("python benchmarks/run.py crosscorpus",)
    ),
    "eval-vs-predict": Table(
        eval_vs_predict, ("eval-vs-predict.json",), ("python benchmarks/eval_vs_predict.py",)
    ),
    "vad-misses": Table(vad_misses, ("vad-misses.json",), ("python benchmarks/vad_misses.py",)),
    "vad-sweep": Table(vad_sweep, ("vad-misses.json",), ("python benchmarks/vad_misses.py",)),
    "loco-speech-check": Table(
        loco_speech_check,
        tuple(name for name, _ in _speech_check_files("loco")),
        tuple(
            f"python benchmarks/vad_misses.py --loco {run}" for run, _ in _speech_check_runs("loco")
        ),
    ),
    "folds-speech-check": Table(
        folds_speech_check,
        tuple(name for name, _ in _speech_check_files("folds")),
        tuple(
            f"python benchmarks/vad_misses.py --folds {run}"
            for run, _ in _speech_check_runs("folds")
        ),
    ),
    "speed": Table(
        speed,
        (
            "startup.json",
            "prepare.json",
            "predict.json",
            "onnx.json",
            "predict-throughput.json",
            "resample.json",
        ),
        (
            "python benchmarks/run.py startup",
            "python benchmarks/run.py prepare",
            "python benchmarks/run.py predict",
            "python benchmarks/run.py onnx",
            "python benchmarks/run.py predict-throughput 200",
            "python benchmarks/resample.py",
        ),
    ),
    "listen": Table(listen, ("listen.json",), ("python benchmarks/run.py listen",)),
    "guard-overhead": Table(
        guard_overhead,
        ("guard-overhead.json",),
        ("python benchmarks/guard_overhead.py deecab2 11",),
    ),
    "ray": Table(ray, ("ray-default.json",), ("python benchmarks/run.py ray default",)),
    "calibration": Table(
        calibration,
        ("ser_cli/assets/default_model/best.json",),
        ("python benchmarks/train_default_model.py",),
    ),
    "segmentation": Table(
        segmentation, ("segmentation.json",), ("python benchmarks/segmentation.py --model RUN",)
    ),
    "segmentation-context": Table(
        segmentation_context,
        ("segmentation.json",),
        ("python benchmarks/segmentation.py --model RUN",),
    ),
    "commands": Table(commands, ("*.json",), ("(each file's own)",)),
    "index": Table(index, (), ()),
}


def render(text: str) -> str:
    """``text`` with every marked block rewritten; ValueError naming an unknown table."""

    def fill(match: re.Match) -> str:
        name = match.group(2)
        if name not in TABLES:
            raise ValueError(f"unknown table {name!r}; tables: {', '.join(TABLES)}")
        return f"{match.group(1)}{TABLES[name].render()}\n{match.group(4)}"

    return BLOCK.sub(fill, text)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for page in pages():
        if not page.exists():
            continue
        text = page.read_text()
        new = render(text)
        if new != text:
            stale.append(page.relative_to(ROOT))
            if not check:
                page.write_text(new)
    if check and stale:
        print(
            "stale tables in: " + ", ".join(map(str, stale)) + "; run python benchmarks/tables.py"
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
