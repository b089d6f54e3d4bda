"""Several corpora in one manifest: prepare, the masked loss, corpus balancing, and
leave-one-corpus-out cross-validation."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from synthetic_runs import quick_config, write_corpus
from typer.testing import CliRunner

from ser_cli.cli import app
from ser_cli.data.manifest import read_manifest
from ser_cli.data.prepare import prepare_corpora
from ser_cli.errors import DatasetError, ManifestError
from ser_cli.labels import EMOTIONS
from ser_cli.training.batchers import epoch_order
from ser_cli.training.trainer import (
    allowed_labels,
    class_weights,
    clip_class_weights,
    masked_cross_entropy,
)

runner = CliRunner()


def ser(*args: object):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


# --- prepare: several corpora, one manifest -------------------------------------------------


@pytest.fixture
def three_corpora(ravdess_corpus, emodb_corpus, ased_corpus):
    return ravdess_corpus(), emodb_corpus(), ased_corpus()


def test_several_corpora_make_one_manifest_with_disjoint_prefixed_speakers(three_corpora, tmp_path):
    result = prepare_corpora(three_corpora, tmp_path / "mix", folds=2)
    assert result.corpora == ["ravdess", "emodb", "ased"]
    assert result.dataset == "ravdess+emodb+ased"
    rows = read_manifest(result.manifest_path)
    by_corpus = Counter(r["corpus"] for r in rows)
    assert by_corpus == {"ravdess": 48, "emodb": 24, "ased": 30}  # boredom rejected
    for row in rows:
        assert row["speaker"].startswith(row["corpus"] + "-")
    # Each corpus is split and folded on its own: present in every split and fold, and no
    # speaker on two sides.
    for corpus in by_corpus:
        mine = [r for r in rows if r["corpus"] == corpus]
        assert {r["split"] for r in mine} == {"train", "val", "test"}
        assert {r["fold"] for r in mine} == {"0", "1"}
        for column in ("split", "fold"):
            sides = {}
            for r in mine:
                sides.setdefault(r["speaker"], set()).add(r[column])
            assert all(len(s) == 1 for s in sides.values()), column
    summary = json.loads(result.summary_path.read_text())
    assert summary["corpora"]["emodb"]["clips"] == 24
    assert set(summary["corpora"]["ased"]["emotions"]) == {
        "neutral",
        "fearful",
        "happy",
        "sad",
        "angry",
    }
    assert len(summary["corpus_dir"]) == 3


def test_one_corpus_keeps_its_own_speaker_ids(ravdess_corpus, tmp_path):
    rows = prepare_corpora([ravdess_corpus()], tmp_path / "one").rows
    assert {r["speaker"] for r in rows} == {f"{a:02d}" for a in range(1, 7)}


def test_the_same_layout_twice_is_numbered(ravdess_corpus, tmp_path):
    a = ravdess_corpus(range(1, 7), name="a")
    b = ravdess_corpus(range(1, 7), name="b")
    rows = prepare_corpora([a, b], tmp_path / "two").rows
    assert Counter(r["corpus"] for r in rows) == {"ravdess": 48, "ravdess-2": 48}
    assert "ravdess-2-01" in {r["speaker"] for r in rows}


def test_cli_prepares_several_corpora_and_refuses_bad_combinations(three_corpora, tmp_path):
    ravdess, emodb, ased = three_corpora
    out = tmp_path / "cli"
    result = ser(
        "prepare", ravdess, emodb, ased, "--out", out, "-d", "ravdess", "-d", "auto", "-d", "ased"
    )
    assert result.exit_code == 0, result.output
    assert "ravdess+emodb+ased" in result.output and "emodb: 24 clips" in result.output
    before = (out / "manifest.csv").read_bytes()
    for args, message in [
        (("-d", "ravdess", "-d", "emodb"), "2 --dataset values for 3 corpora"),
        (("--test-speakers", "ravdess-01"), "fix the split of one corpus"),
        (("-d", "iemocap"), "unknown dataset 'iemocap'"),
    ]:
        bad = ser("prepare", ravdess, emodb, ased, "--out", out, *args)
        assert bad.exit_code != 0 and message in bad.output, bad.output
    twice = ser("prepare", ravdess, ravdess, "--out", out)
    assert twice.exit_code != 0 and "corpus given twice" in twice.output
    assert (out / "manifest.csv").read_bytes() == before  # nothing written by a refused run


def test_prepare_refuses_before_reading_when_a_corpus_is_missing(ravdess_corpus, tmp_path):
    with pytest.raises(DatasetError, match="corpus folder not found"):
        prepare_corpora([ravdess_corpus(), tmp_path / "nope"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- the masked loss and corpus balancing ---------------------------------------------------


def test_masked_loss_with_every_label_allowed_is_torchs_cross_entropy():
    import torch

    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 5, generator=gen)
    targets = torch.tensor([0, 1, 2, 3, 4, 0])
    allowed = torch.ones(6, 5, dtype=torch.bool)
    weight = torch.tensor([1.0, 0.5, 2.0, 1.5, 1.0])
    ours = masked_cross_entropy(logits, targets, allowed, weight, 0.1)
    theirs = torch.nn.functional.cross_entropy(logits, targets, weight=weight, label_smoothing=0.1)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-6)


def test_masked_loss_ignores_labels_a_corpus_lacks():
    import torch

    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 5, generator=gen, requires_grad=True)
    targets = torch.tensor([0, 2, 0, 2])
    allowed = torch.tensor([[1, 0, 1, 0, 1]] * 4, dtype=torch.bool)
    weight = torch.tensor([1.0, 9.0, 2.0, 9.0, 1.0])
    loss = masked_cross_entropy(logits, targets, allowed, weight, 0.05)
    loss.backward()
    # No gradient reaches the labels the corpus does not annotate, whatever their logits.
    assert torch.all(logits.grad[:, [1, 3]] == 0)
    assert torch.all(logits.grad[:, [0, 2, 4]] != 0)
    # It is the cross-entropy over the allowed columns alone.
    sub = logits.detach()[:, [0, 2, 4]]
    expected = torch.nn.functional.cross_entropy(
        sub, torch.tensor([0, 1, 0, 1]), weight=torch.tensor([1.0, 2.0, 1.0]), label_smoothing=0.05
    )
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_class_weights_by_corpus_weigh_a_corpus_only_label_like_its_other_labels():
    # corpus 0: labels 0, 1, 2 ten clips each; corpus 1: labels 0 and 2, forty clips each.
    labels = np.array([0] * 10 + [1] * 10 + [2] * 10 + [0] * 40 + [2] * 40)
    corpora = np.array([0] * 30 + [1] * 80)
    union = class_weights(labels, 3)
    assert union[1] > 3 * union[0]  # over the union, corpus 0's label 1 is rare
    per_clip = clip_class_weights(labels, corpora, 3)
    assert per_clip.shape == (110, 3)
    assert per_clip[:30].tolist() == [[1.0, 1.0, 1.0]] * 30  # corpus 0 is balanced in itself
    assert per_clip[30:].tolist() == [[1.0, 0.0, 1.0]] * 80  # corpus 1 never has label 1
    # The loss with one row per clip, all rows alike, is the loss with that row for all.
    import torch

    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(5, 3, generator=gen)
    targets = torch.tensor([0, 1, 2, 0, 2])
    allowed = torch.ones(5, 3, dtype=torch.bool)
    row = torch.tensor([0.5, 2.0, 1.0])
    ours = masked_cross_entropy(logits, targets, allowed, row.expand(5, 3), 0.1)
    assert ours.item() == pytest.approx(
        masked_cross_entropy(logits, targets, allowed, row, 0.1).item()
    )
    # Different rows weigh each clip by its own: a clip of weight 0 adds nothing.
    rows = torch.tensor([[1.0, 1.0, 1.0]] * 4 + [[0.0, 0.0, 0.0]])
    assert masked_cross_entropy(logits, targets, allowed, rows, 0.1).item() == pytest.approx(
        masked_cross_entropy(logits[:4], targets[:4], allowed[:4], torch.ones(3), 0.1).item()
    )


def test_allowed_labels_is_none_for_one_corpus_and_per_corpus_otherwise():
    labels = ("neutral", "calm", "happy")
    one = [{"label": "neutral", "corpus": "a"}, {"label": "calm", "corpus": "a"}]
    one.append({"label": "happy", "corpus": "a"})
    assert allowed_labels(one, labels) is None
    two = [*one, {"label": "happy", "corpus": "b"}, {"label": "neutral", "corpus": "b"}]
    mask = allowed_labels(two, labels)
    assert mask.tolist() == [[True, True, True]] * 3 + [[True, False, True]] * 2


def test_epoch_order_gives_each_corpus_an_equal_share():
    corpora = np.array([0] * 90 + [1] * 10)
    order = epoch_order(np.random.default_rng(0), corpora, balance=True)
    assert len(order) == 100
    assert Counter(corpora[order].tolist()) == {0: 50, 1: 50}
    small = order[corpora[order] == 1]
    assert Counter(Counter(small.tolist()).values()) == {5: 10}  # every clip 5 times
    big = order[corpora[order] == 0]
    assert len(set(big.tolist())) == 50  # a subsample, no clip twice
    # One corpus (or balance off): the same permutation as before corpora were mixed.
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    one = np.zeros(20, dtype=np.int64)
    assert epoch_order(rng_a, one, True).tolist() == rng_b.permutation(20).tolist()
    assert sorted(epoch_order(rng_a, corpora, False).tolist()) == list(range(100))


# --- training on a mix, leave-one-corpus-out ------------------------------------------------


@pytest.fixture(scope="module")
def mixed_rows(tmp_path_factory):
    """Two synthetic 'corpora': speakers 1-3 with all 8 emotions, 4-6 without calm/surprised."""
    root = tmp_path_factory.mktemp("mix")
    rows = []
    for row in write_corpus(root / "audio"):
        corpus = "a" if row["speaker"] in ("01", "02", "03") else "b"
        if corpus == "b" and row["label"] in ("calm", "surprised"):
            continue
        rows.append({**row, "corpus": corpus, "speaker": f"{corpus}-{row['speaker']}"})
    return rows


@pytest.mark.slow
@pytest.mark.parametrize("weights", ["union", "corpus"])
def test_a_model_learns_from_corpora_with_different_label_sets(mixed_rows, tmp_path, weights):
    from ser_cli.inference.evaluate import evaluate_rows
    from ser_cli.models.checkpoint import load_checkpoint
    from ser_cli.training.trainer import train_run

    rows = [{**r, "split": "train" if r["speaker"][-1] in "1245" else "test"} for r in mixed_rows]
    # 28 test clips: one seed's score is noisy (both weightings lie below 3/8 on some seed).
    cfg = quick_config("enhanced", epochs=25, class_weights=weights, seed=1)
    train_run(rows, cfg, tmp_path / "run", cache_root=tmp_path)
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt.labels == EMOTIONS  # the union of both corpora's labels
    test = [r for r in rows if r["split"] == "test"]
    report = evaluate_rows(ckpt, test, adapt=False, cache_root=tmp_path)
    assert report["accuracy"] > 3 / 8, report["confusion"]


def test_cli_leave_one_corpus_out_scores_each_corpus_over_its_own_classes(mixed_rows, tmp_path):
    from ser_cli.data.manifest import write_manifest

    manifest = write_manifest(mixed_rows, tmp_path / "m.csv")
    ok = ser(
        "train",
        "--data",
        manifest,
        "--model",
        "classic",
        "--cv",
        "corpus",
        "--out",
        tmp_path / "cv",
    )
    assert ok.exit_code == 0, ok.output
    assert "leave-one-corpus-out" in ok.output and "4-class" in ok.output
    report = json.loads((tmp_path / "cv" / "cv.json").read_text())
    assert report["by"] == "corpus" and [f["fold"] for f in report["folds"]] == ["a", "b"]
    by_fold = {f["fold"]: f for f in report["folds"]}
    assert all(s.startswith("a-") for s in by_fold["a"]["test_speakers"])
    # Corpus b has no calm or surprised: it is scored over its own six classes.
    assert "calm" not in by_fold["b"]["labels"] and len(by_fold["b"]["labels"]) == 6
    assert "four_class_accuracy" in by_fold["b"]["metrics_no_adapt"]
    mean = report["summary"]["metrics_no_adapt.four_class_accuracy"]["mean"]
    assert mean == pytest.approx(
        np.mean([f["metrics_no_adapt"]["four_class_accuracy"] for f in report["folds"]])
    )
    # `ser eval` on a multi-corpus manifest: overall, and each corpus over its own classes.
    report = ser(
        "eval",
        "--model",
        tmp_path / "cv" / "without-a",
        "--data",
        manifest,
        "--split",
        "all",
        "--json",
    )
    assert report.exit_code == 0, report.output
    corpora = json.loads(report.output)["corpora"]
    assert set(corpora) == {"a", "b"} and corpora["b"]["n"] == 36
    assert corpora["a"]["n"] + corpora["b"]["n"] == json.loads(report.output)["n"]
    shown = ser(
        "eval", "--model", tmp_path / "cv" / "without-a", "--data", manifest, "--split", "all"
    )
    assert "per corpus, own classes" in shown.output
    single = write_manifest([{**r, "corpus": "a"} for r in mixed_rows], tmp_path / "s.csv")
    bad = ser(
        "train", "--data", single, "--model", "classic", "--cv", "corpus", "--out", tmp_path / "x"
    )
    assert bad.exit_code != 0 and "needs 2 or more corpora" in bad.output
    for value in ("1", "two"):
        odd = ser("train", "--data", manifest, "--cv", value, "--out", tmp_path / "y")
        assert odd.exit_code != 0 and "give a number of folds" in odd.output
    with pytest.raises(ManifestError):
        from ser_cli.training.crossval import corpus_ids

        corpus_ids([{k: v for k, v in r.items() if k != "corpus"} for r in mixed_rows])


@pytest.mark.slow
def test_eval_of_an_onnx_model_reports_each_corpus(mixed_rows, tmp_path):
    from synthetic_runs import make_run

    from ser_cli.data.manifest import write_manifest

    manifest = write_manifest(mixed_rows, tmp_path / "m.csv")
    model = tmp_path / "m.onnx"
    assert ser("export", make_run(tmp_path, "enhanced"), "--out", model).exit_code == 0
    result = ser("eval", "--model", model, "--data", manifest, "--split", "all", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report["corpora"]) == {"a", "b"}
    assert report["corpora"]["a"]["n"] + report["corpora"]["b"]["n"] == report["n"]
