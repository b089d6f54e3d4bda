"""Split properties: speaker-disjoint, every emotion everywhere, gender-balanced, seeded."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ser_cli.data.splits import (
    RANDOM_SPLIT_WARNING,
    random_split,
    speaker_folds,
    speaker_split,
)
from ser_cli.errors import DatasetError
from ser_cli.labels import EMOTIONS

SPLITS = ("train", "val", "test")


def ravdess_rows(actors: int = 20, emotions=EMOTIONS, clips_each: int = 2) -> list[dict]:
    """Manifest-like rows: RAVDESS actors (odd male, even female), every emotion each."""
    return [
        {
            "speaker": f"{actor:02d}",
            "gender": "male" if actor % 2 else "female",
            "label": emotion,
        }
        for actor in range(1, actors + 1)
        for emotion in emotions
        for _ in range(clips_each)
    ]


def speakers_of(rows, values) -> dict[object, set[str]]:
    groups: dict[object, set[str]] = {}
    for row, value in zip(rows, values, strict=True):
        groups.setdefault(value, set()).add(row["speaker"])
    return groups


def genders_of(rows, values, group) -> Counter:
    speakers = {r["speaker"]: r["gender"] for r, v in zip(rows, values, strict=True) if v == group}
    return Counter(speakers.values())


def test_twenty_actors_split_14_3_3_disjoint_with_both_genders_held_out():
    rows = ravdess_rows()
    result = speaker_split(rows, seed=0)
    groups = speakers_of(rows, result.values)
    assert {k: len(v) for k, v in groups.items()} == {"train": 14, "val": 3, "test": 3}
    assert not (groups["train"] & groups["val"] or groups["train"] & groups["test"])
    assert not groups["val"] & groups["test"]
    for split in ("val", "test"):
        assert set(genders_of(rows, result.values, split)) == {"male", "female"}
    assert genders_of(rows, result.values, "val") + genders_of(rows, result.values, "test") == {
        "male": 3,
        "female": 3,
    }
    assert result.warnings == []


def test_speaker_split_is_deterministic_and_seeded():
    rows = ravdess_rows()
    assert speaker_split(rows, seed=3).values == speaker_split(rows, seed=3).values
    tests = {
        frozenset(speakers_of(rows, speaker_split(rows, seed=s).values)["test"]) for s in range(5)
    }
    assert len(tests) > 1


def test_speaker_split_finds_an_arrangement_covering_every_emotion():
    # Only actors 01, 02 and 03 have "surprised": only draws that put one of them in each
    # split cover it, and the split must keep looking until it finds one.
    rows = ravdess_rows(actors=9, emotions=EMOTIONS[:7], clips_each=1)
    rows += [
        {"speaker": s, "gender": g, "label": "surprised"}
        for s, g in (("01", "male"), ("02", "female"), ("03", "male"))
    ]
    result = speaker_split(rows, seed=0)
    for split in SPLITS:
        labels = {r["label"] for r, v in zip(rows, result.values, strict=True) if v == split}
        assert labels == set(EMOTIONS), split
    assert result.warnings == []


def test_speaker_split_warns_when_no_arrangement_covers_an_emotion():
    rows = ravdess_rows(actors=6, emotions=EMOTIONS[:2], clips_each=1)
    rows.append({"speaker": "01", "gender": "male", "label": "sad"})  # one speaker has "sad"
    result = speaker_split(rows, seed=0)
    assert len(result.warnings) == 2
    assert all("has no clips of sad" in w for w in result.warnings)


def test_overrides_fix_test_and_val_speakers():
    rows = ravdess_rows()
    result = speaker_split(rows, test_speakers=["1", "02"], val_speakers=["03", "04", "05"])
    groups = speakers_of(rows, result.values)
    assert groups["test"] == {"01", "02"}
    assert groups["val"] == {"03", "04", "05"}
    assert len(groups["train"]) == 15
    only_test = speakers_of(rows, speaker_split(rows, test_speakers=["20"]).values)
    assert only_test["test"] == {"20"} and len(only_test["val"]) == 3


@pytest.mark.parametrize(
    "options, message",
    [
        (
            {"test_speakers": ["99", "01"]},
            "unknown speaker.*--test-speakers: 99; this corpus has speakers 01, 02",
        ),
        ({"val_speakers": ["bob"]}, "unknown speaker.*--val-speakers: bob"),
        ({"test_speakers": ["01"], "val_speakers": ["1"]}, "01 are in both"),
        ({"test_speakers": [f"{a:02d}" for a in range(1, 19)]}, "leave none of the 20 speakers"),
    ],
)
def test_bad_overrides_fail_clearly(options, message):
    with pytest.raises(DatasetError, match=message):
        speaker_split(ravdess_rows(), **options)


def test_too_few_speakers_suggests_random_split():
    rows = ravdess_rows(actors=2)
    with pytest.raises(
        DatasetError, match="at least 3 speakers; this corpus has 2.*--split random"
    ):
        speaker_split(rows)


def test_random_split_is_stratified_seeded_and_warns():
    rows = ravdess_rows(actors=2, clips_each=10)  # 20 clips per emotion
    result = random_split(rows, seed=1)
    assert result.warnings == [RANDOM_SPLIT_WARNING]
    for emotion in EMOTIONS:
        counts = Counter(
            v for r, v in zip(rows, result.values, strict=True) if r["label"] == emotion
        )
        assert counts == {"train": 14, "val": 3, "test": 3}
    assert random_split(rows, seed=1).values == result.values
    assert random_split(rows, seed=2).values != result.values


def test_random_split_keeps_rare_emotions_in_train_and_says_so():
    rows = ravdess_rows(actors=1, emotions=("happy",), clips_each=10)
    rows.append({"speaker": "01", "gender": "male", "label": "sad"})
    result = random_split(rows)
    assert result.values[-1] == "train"
    assert any("split val has no clips of sad" in w for w in result.warnings)


def test_five_folds_of_twenty_actors_hold_two_men_and_two_women_each():
    rows = ravdess_rows()
    result = speaker_folds(rows, 5, seed=0)
    groups = speakers_of(rows, result.values)
    assert sorted(groups) == [0, 1, 2, 3, 4]
    for fold in groups:
        assert genders_of(rows, result.values, fold) == {"male": 2, "female": 2}
    assert result.warnings == []
    assert speaker_folds(rows, 5, seed=0).values == result.values


@pytest.mark.parametrize(
    "folds, message", [(1, "at least 2 folds"), (21, "needs at least 21 speakers")]
)
def test_bad_fold_counts_fail(folds, message):
    with pytest.raises(DatasetError, match=message):
        speaker_folds(ravdess_rows(), folds)


speaker_sets = st.lists(
    st.tuples(
        st.sampled_from(["male", "female", ""]), st.sets(st.sampled_from(EMOTIONS), min_size=1)
    ),
    min_size=3,
    max_size=25,
)


def rows_from(speakers) -> list[dict]:
    return [
        {"speaker": f"s{i}", "gender": gender, "label": label}
        for i, (gender, labels) in enumerate(speakers)
        for label in sorted(labels)
    ]


@settings(max_examples=40, deadline=None)
@given(speakers=speaker_sets, seed=st.integers(0, 2**16))
def test_property_speaker_split_is_disjoint_complete_and_deterministic(speakers, seed):
    rows = rows_from(speakers)
    result = speaker_split(rows, seed=seed)
    groups = speakers_of(rows, result.values)
    assert set(groups) == set(SPLITS)  # every split has at least one speaker
    assert sum(len(g) for g in groups.values()) == len(speakers)  # so none is in two
    assert speaker_split(rows, seed=seed) == result
    for split in SPLITS:
        labels = {r["label"] for r, v in zip(rows, result.values, strict=True) if v == split}
        missing = {r["label"] for r in rows} - labels
        assert not missing or any(f"split {split} has no clips" in w for w in result.warnings)


@settings(max_examples=40, deadline=None)
@given(speakers=speaker_sets, folds=st.integers(2, 5), seed=st.integers(0, 2**16))
def test_property_folds_are_disjoint_and_even(speakers, folds, seed):
    rows = rows_from(speakers)
    if folds > len(speakers):
        with pytest.raises(DatasetError):
            speaker_folds(rows, folds, seed=seed)
        return
    groups = speakers_of(rows, speaker_folds(rows, folds, seed=seed).values)
    sizes = [len(groups.get(f, ())) for f in range(folds)]
    assert sum(sizes) == len(speakers)
    assert max(sizes) - min(sizes) <= 1
    for gender in ("male", "female"):
        per_fold = [
            sum(1 for s in groups.get(f, ()) if speakers[int(s[1:])][0] == gender)
            for f in range(folds)
        ]
        assert max(per_fold) - min(per_fold) <= 1
