"""Tables for `ser eval`, `ser train --cv` and `ser models`."""

from __future__ import annotations

from functools import partial

from rich.console import Group
from rich.table import Table
from rich.text import Text


def comparison_table(reports: dict[str, dict]) -> Table:
    """One column per model: accuracy, UAR, macro-F1, clips."""
    table = Table(title="evaluation", title_justify="left")
    table.add_column("metric")
    for name in reports:
        table.add_column(name, justify="right")
    for key, label in (
        ("accuracy", "weighted accuracy"),
        ("uar", "UAR (unweighted avg recall)"),
        ("macro_f1", "macro-F1"),
    ):
        table.add_row(label, *(f"{r[key]:.1%}" for r in reports.values()))
    table.add_row("clips", *(str(r["n"]) for r in reports.values()))
    table.add_row(
        "speaker-adapted", *("yes" if r.get("adapted") else "no" for r in reports.values())
    )
    if any("four_class" in r for r in reports.values()):
        for key, label in (("accuracy", "4-class accuracy"), ("uar", "4-class UAR")):
            table.add_row(
                f"{label} (ang/hap/neu/sad)",
                *(
                    f"{r['four_class'][key]:.1%}" if "four_class" in r else "-"
                    for r in reports.values()
                ),
            )
        table.add_row(
            "4-class clips", *(str(r.get("four_class", {}).get("n", "-")) for r in reports.values())
        )
    if any("calibration" in r for r in reports.values()):
        table.add_row(
            "ECE (calibration error)",
            *(
                f"{r['calibration']['ece']:.3f} (T={r['calibration'].get('temperature', 1.0):.2f})"
                if "calibration" in r
                else "-"
                for r in reports.values()
            ),
        )
    return table


def label_mapping_lines(report: dict) -> list[str]:
    """What a cross-corpus evaluation scored, merged and left out; [] when nothing was mapped."""
    mapping = report.get("label_mapping") or {}
    lines = []
    if mapping.get("excluded_labels"):
        lines.append(f"not scored (the model lacks them): {', '.join(mapping['excluded_labels'])}")
    for source, target in (mapping.get("merged_labels") or {}).items():
        lines.append(f"the corpus has no {source}: the model's {source} counts as {target}")
    if mapping.get("dropped_labels"):
        lines.append(
            f"the corpus has no {', '.join(mapping['dropped_labels'])}: "
            f"scored over {', '.join(mapping['scored_labels'])} only"
        )
    return lines


def per_class_table(report: dict, title: str = "") -> Table:
    table = Table(title=title or "per class", title_justify="left")
    for col in ("emotion", "precision", "recall", "F1", "clips"):
        table.add_column(col, justify="left" if col == "emotion" else "right")
    for label, row in report["per_class"].items():
        if row["support"] == 0:
            continue
        table.add_row(
            label,
            f"{row['precision']:.2f}",
            f"{row['recall']:.2f}",
            f"{row['f1']:.2f}",
            str(row["support"]),
        )
    return table


def confusion_table(report: dict, title: str = "") -> Table:
    labels = report["labels"]
    table = Table(title=title or "confusion (rows: true, columns: predicted)", title_justify="left")
    table.add_column("")
    for label in labels:
        table.add_column(label[:4], justify="right")
    for label, row in zip(labels, report["confusion"], strict=False):
        if sum(row) == 0:
            continue
        table.add_row(
            label,
            *(
                f"[bold]{v}[/]" if i == labels.index(label) else (str(v) if v else "[dim]0[/]")
                for i, v in enumerate(row)
            ),
        )
    return table


def eval_report(reports: dict[str, dict]) -> Group:
    from rich.text import Text

    parts = [comparison_table(reports)]
    for name, report in reports.items():
        suffix = f" — {name}" if len(reports) > 1 else ""
        parts += [Text(f"{line}{suffix}", style="yellow") for line in label_mapping_lines(report)]
        if report.get("corpora"):
            parts.append(corpora_table(report["corpora"], f"per corpus, own classes{suffix}"))
        parts += [
            per_class_table(report, f"per class{suffix}"),
            confusion_table(report, f"confusion{suffix} (rows: true, columns: predicted)"),
        ]
    return Group(*parts)


def corpora_table(corpora: dict[str, dict], title: str) -> Table:
    """One row per corpus of a multi-corpus manifest: its own classes and the 4-class view."""
    table = Table(title=title, title_justify="left")
    for col in ("corpus", "clips", "accuracy", "UAR", "macro-F1", "4-class"):
        table.add_column(col, justify="left" if col == "corpus" else "right")
    for name, m in corpora.items():
        four = m.get("four_class_accuracy")
        table.add_row(
            name,
            str(m["n"]),
            f"{m['accuracy']:.1%}",
            f"{m['uar']:.1%}",
            f"{m['macro_f1']:.1%}",
            "-" if four is None else f"{four:.1%}",
        )
    return table


def cv_table(result) -> Table:
    """Per-fold and mean ± std metrics of a cross-validation run."""
    if result.by == "corpus":
        return loco_table(result)
    table = Table(
        title=f"speaker-disjoint cross-validation: {result.out_dir}", title_justify="left"
    )
    for col in (
        "fold",
        "test speakers",
        "accuracy",
        "UAR",
        "macro-F1",
        "accuracy (no adapt)",
        "minutes",
    ):
        table.add_column(col, justify="left" if col in ("fold", "test speakers") else "right")
    for fold in result.folds:
        m, g = fold["metrics"], fold["metrics_no_adapt"]
        table.add_row(
            str(fold["fold"]),
            ",".join(fold["test_speakers"]),
            f"{m['accuracy']:.1%}",
            f"{m['uar']:.1%}",
            f"{m['macro_f1']:.1%}",
            f"{g['accuracy']:.1%}",
            f"{fold['seconds'] / 60:.1f}",
        )
    from ser_cli.training.crossval import mean_std

    s = result.summary
    ms = partial(mean_std, s)

    table.add_row(
        "[bold]mean[/]",
        "",
        ms("metrics.accuracy"),
        ms("metrics.uar"),
        ms("metrics.macro_f1"),
        ms("metrics_no_adapt.accuracy"),
        f"{s['seconds_per_fold']['mean'] / 60:.1f}",
    )
    return table


def models_table(rows: list[dict]) -> Group:
    """The registry: size, input, cross-validated accuracy, what each model is and when to use it."""
    table = Table(title="registered models", title_justify="left")
    columns = (
        "name",
        "parameters",
        "reads",
        "CV accuracy",
        "epochs",
        "what it is / when to pick it",
    )
    for col in columns:
        table.add_column(
            col, justify="left" if col in ("name", "reads") or "what" in col else "right"
        )
    for row in rows:
        cv = row.get("cv")
        accuracy = f"{cv['accuracy']['mean']:.1%} ± {cv['accuracy']['std']:.1%}" if cv else "-"
        why = row["why"] + (f" [yellow]({row['note']})[/]" if row.get("note") else "")
        table.add_row(
            f"[bold green]{row['name']} ★[/]" if row.get("recommended") else row["name"],
            f"{row['parameters']:,}" if row["parameters"] else "-",
            row["features"],
            accuracy,
            str(cv["epochs"]) if cv else "-",
            f"{row['summary']}\n[dim]{why}[/]",
        )
    recommended = [r["name"] for r in rows if r.get("recommended")]
    footer = Text.from_markup(
        f"★ recommended: [bold]{', '.join(recommended)}[/]. CV accuracy: weighted accuracy, "
        "mean ± std over 5 speaker-disjoint folds of RAVDESS (20 actors), test speakers "
        "adapted; '-': not measured. Details: docs/accuracy.md."
    )
    return Group(table, footer)


def loco_table(result) -> Table:
    """Leave-one-corpus-out: each corpus scored by a model that never heard it, no adaptation
    first (what `ser predict` gives), over its own classes and over angry/happy/neutral/sad."""
    from ser_cli.training.crossval import mean_std

    table = Table(title=f"leave-one-corpus-out: {result.out_dir}", title_justify="left")
    columns = ("left out", "speakers", "accuracy", "UAR", "4-class", "4-class (adapted)", "minutes")
    for col in columns:
        table.add_column(col, justify="left" if col == "left out" else "right")

    def pct(metrics: dict, key: str) -> str:
        return f"{metrics[key]:.1%}" if key in metrics else "-"

    for fold in result.folds:
        g, m = fold["metrics_no_adapt"], fold["metrics"]
        table.add_row(
            str(fold["fold"]),
            str(len(fold["test_speakers"])),
            pct(g, "accuracy"),
            pct(g, "uar"),
            pct(g, "four_class_accuracy"),
            pct(m, "four_class_accuracy"),
            f"{fold['seconds'] / 60:.1f}",
        )
    s = result.summary

    def ms(key: str) -> str:
        return mean_std(s, key) if key in s else "-"

    table.add_row(
        "[bold]mean[/]",
        "",
        ms("metrics_no_adapt.accuracy"),
        ms("metrics_no_adapt.uar"),
        ms("metrics_no_adapt.four_class_accuracy"),
        ms("metrics.four_class_accuracy"),
        f"{s['seconds_per_fold']['mean'] / 60:.1f}",
    )
    return table
