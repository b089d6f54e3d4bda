"""Fixed choices are enums: `--help` lists them, click rejects others (exit 2), and their values
are the library's."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ser_cli import cli
from ser_cli.cli import app
from ser_cli.data.manifest import SPLITS
from ser_cli.data.splits import RANDOM, SPEAKER
from ser_cli.inference.predictor import ADAPT_MODES

runner = CliRunner()


def test_choices_are_the_librarys():
    assert [m.value for m in cli.Adapt] == list(ADAPT_MODES)
    assert [m.value for m in cli.SplitMethod] == [SPEAKER, RANDOM]
    assert [m.value for m in cli.EvalSplit] == [*SPLITS, "all"]
    assert [m.value for m in cli.Device] == ["auto", "cpu", "cuda", "mps"]


@pytest.mark.parametrize(
    "args, option, listed",
    [
        (["predict", "x.wav", "--format", "xml"], "--format", "table|json|csv"),
        (["predict", "x.wav", "--adapt", "speaker"], "--adapt", "none|all|folder"),
        (["prepare", "corpus", "--out", "o", "--split", "by-gender"], "--split", "speaker|random"),
        (["eval", "--data", "m.csv", "--split", "holdout"], "--split", "train|val|test|all"),
        (["train", "--data", "m.csv", "--out", "o", "--device", "tpu"], "--device", "auto|cpu"),
    ],
)
def test_a_bad_choice_is_a_usage_error_and_help_lists_the_choices(args, option, listed):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "Invalid value" in result.output and option in result.output
    help_text = runner.invoke(app, [args[0], "--help"], env={"COLUMNS": "200"}).output
    assert listed in help_text
