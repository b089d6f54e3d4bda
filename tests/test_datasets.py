"""Corpus parsers and the registry: names to labels, speakers and genders; detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from ser_cli.data import corpora as datasets
from ser_cli.data.corpora import ased, cremad, csvlist, emodb, folders, ravdess, savee, tess
from ser_cli.data.corpora.base import FEMALE, MALE, UNKNOWN_SPEAKER, Mismatch
from ser_cli.errors import DatasetError
from ser_cli.labels import EMOTIONS

ROOT = Path("/corpus")


# --- RAVDESS ---------------------------------------------------------------------------


def test_ravdess_reads_all_seven_fields():
    clip = ravdess.parse_file(ROOT / "Actor_07/03-01-05-02-01-02-07.wav", ROOT)
    assert (clip.label, clip.speaker, clip.gender) == ("angry", "07", MALE)
    assert clip.fields == {
        "modality": "audio-only",
        "vocal_channel": "speech",
        "intensity": "strong",
        "statement": "Kids are talking by the door",
        "repetition": "2",
    }


@pytest.mark.parametrize("code, emotion", [(f"{i:02d}", e) for i, e in enumerate(EMOTIONS, 1)])
def test_ravdess_emotion_codes_follow_the_canonical_order(code, emotion):
    assert ravdess.parse_file(ROOT / f"03-01-{code}-01-01-01-01.wav", ROOT).label == emotion


def test_ravdess_song_flac_full_av_and_even_actor():
    clip = ravdess.parse_file(ROOT / "01-02-03-01-02-01-12.flac", ROOT)
    assert clip.gender == FEMALE
    assert clip.fields["vocal_channel"] == "song"
    assert clip.fields["modality"] == "full-AV"
    assert clip.fields["statement"] == "Dogs are sitting by the door"


@pytest.mark.parametrize(
    "name, reason",
    [
        ("03-01-09-01-01-01-01.wav", "emotion code '09'"),
        ("02-01-01-01-01-01-01.wav", "video-only"),
        ("03-01-01-01-01-01-25.wav", "actor '25'"),
        ("03-03-01-01-01-01-01.wav", "vocal channel code '03'"),
        ("03-01-01-03-01-01-01.wav", "intensity code '03'"),
        ("03-01-01-01-03-01-01.wav", "statement code '03'"),
        ("03-01-01-01-01-03-01.wav", "repetition code '03'"),
        ("03-01-01-01-01-01.wav", "not a RAVDESS name"),
        ("notes.wav", "not a RAVDESS name"),
        ("Actor_02/03-01-01-01-01-01-01.wav", "file is in Actor_02/"),
    ],
)
def test_ravdess_rejects_foreign_names_with_a_reason(name, reason):
    with pytest.raises(Mismatch, match=reason):
        ravdess.parse_file(ROOT / name, ROOT)


def test_ravdess_parse_walks_actor_folders_and_lists_strays(ravdess_corpus, write_clip):
    root = ravdess_corpus(actors=(1, 2))
    write_clip(root / "Actor_01" / "stray.wav")
    (root / "README.txt").write_text("not audio")
    result = ravdess.parse(root)
    assert len(result.clips) == 2 * len(EMOTIONS)
    assert [r.path.name for r in result.rejected] == ["stray.wav"]
    assert result.ignored == 1
    assert all(c.path.is_absolute() for c in result.clips)
    assert [c.path for c in result.clips] == sorted(c.path for c in result.clips)


def test_ravdess_parse_reads_a_flat_flac_layout(ravdess_corpus):
    result = ravdess.parse(ravdess_corpus(actors=(3,), flat=True, suffix=".flac"))
    assert {c.path.suffix for c in result.clips} == {".flac"}
    assert {c.speaker for c in result.clips} == {"03"}
    assert not result.rejected


# --- CREMA-D, TESS, SAVEE, EmoDB -------------------------------------------------------------


def test_cremad_reads_speaker_sentence_emotion_intensity():
    clip = cremad.parse_file(ROOT / "1001_DFA_ANG_XX.wav", ROOT)
    assert (clip.label, clip.speaker, clip.gender) == ("angry", "1001", "")
    assert clip.fields == {"sentence": "DFA", "intensity": "unspecified"}
    assert cremad.parse_file(ROOT / "1091_IEO_FEA_HI.wav", ROOT).fields["intensity"] == "high"


@pytest.mark.parametrize(
    "name, reason",
    [
        ("1001_DFA_BOR_XX.wav", "emotion code 'BOR'"),
        ("1092_DFA_ANG_XX.wav", "speaker '1092'"),
        ("1001_XYZ_ANG_XX.wav", "sentence code 'XYZ'"),
        ("1001_DFA_ANG_ZZ.wav", "intensity code 'ZZ'"),
        ("1001-DFA-ANG-XX.wav", "not a CREMA-D name"),
    ],
)
def test_cremad_rejects_foreign_names(name, reason):
    with pytest.raises(Mismatch, match=reason):
        cremad.parse_file(ROOT / name, ROOT)


@pytest.mark.parametrize(
    "name, label",
    [
        ("OAF_back_ps.wav", "surprised"),
        ("YAF_chair_fear.wav", "fearful"),
        ("OAF_back_angry.wav", "angry"),
    ],
)
def test_tess_maps_its_emotion_words(name, label):
    clip = tess.parse_file(ROOT / name, ROOT)
    assert clip.label == label
    assert clip.gender == FEMALE
    assert clip.speaker == name[:3]


def test_tess_rejects_unknown_emotion_and_speaker():
    with pytest.raises(Mismatch, match="emotion code 'bored'"):
        tess.parse_file(ROOT / "OAF_back_bored.wav", ROOT)
    with pytest.raises(Mismatch, match="not a TESS name"):
        tess.parse_file(ROOT / "MAF_back_angry.wav", ROOT)


@pytest.mark.parametrize("path", ["DC_sa03.wav", "DC/sa03.wav", "audio/DC/sa03.wav"])
def test_savee_reads_flat_and_folder_layouts(path):
    clip = savee.parse_file(ROOT / path, ROOT)
    assert (clip.label, clip.speaker, clip.gender) == ("sad", "DC", MALE)
    assert clip.fields == {"sentence": "03"}


def test_savee_codes_and_rejections():
    assert savee.parse_file(ROOT / "KL_su15.wav", ROOT).label == "surprised"
    assert savee.parse_file(ROOT / "JE_f01.wav", ROOT).label == "fearful"
    with pytest.raises(Mismatch, match="speaker 'XX'"):
        savee.parse_file(ROOT / "XX_a01.wav", ROOT)
    with pytest.raises(Mismatch, match="emotion code 'x'"):
        savee.parse_file(ROOT / "DC_x01.wav", ROOT)
    with pytest.raises(Mismatch, match="not a SAVEE name"):
        savee.parse_file(ROOT / "other/a01.wav", ROOT)


@pytest.mark.parametrize(
    "name, label, gender",
    [
        ("03a01Fa.wav", "happy", MALE),
        ("08b10Wb.wav", "angry", FEMALE),
        ("16a05Tc.wav", "sad", FEMALE),
    ],
)
def test_emodb_reads_emotion_and_gender_from_the_speaker(name, label, gender):
    clip = emodb.parse_file(ROOT / name, ROOT)
    assert (clip.label, clip.gender, clip.speaker) == (label, gender, name[:2])
    assert clip.fields == {"text": name[2:5], "version": name[6]}


def test_emodb_lists_boredom_as_unmapped_and_rejects_unknown_speakers():
    with pytest.raises(Mismatch, match="unmapped emotion.*boredom"):
        emodb.parse_file(ROOT / "03a01La.wav", ROOT)
    with pytest.raises(Mismatch, match="speaker '04'"):
        emodb.parse_file(ROOT / "04a01Fa.wav", ROOT)


@pytest.mark.parametrize(
    "name, label, speaker, gender",
    [
        ("05Angry/a5-03-01-02-50.flac", "angry", "50", MALE),
        ("01Neutral/n1-01-01-01-01.flac", "neutral", "01", FEMALE),
        ("04Sad/S4-04-02-01-29.flac", "sad", "29", FEMALE),  # a capital in the public copy
    ],
)
def test_ased_reads_emotion_speaker_and_gender_from_the_name(name, label, speaker, gender):
    clip = ased.parse_file(ROOT / name, ROOT)
    assert (clip.label, clip.speaker, clip.gender) == (label, speaker, gender)
    assert clip.fields == {"sentence": name.split("-")[1], "repetition": name.split("-")[2]}


def test_ased_rejects_foreign_names_and_a_code_in_the_wrong_folder():
    with pytest.raises(Mismatch, match="not an ASED name"):
        ased.parse_file(ROOT / "01Neutral/n1-01-01-01.flac", ROOT)
    with pytest.raises(Mismatch, match="emotion code"):
        ased.parse_file(ROOT / "01Neutral/n3-01-01-01-01.flac", ROOT)
    with pytest.raises(Mismatch, match="gender code"):
        ased.parse_file(ROOT / "03Happy/h3-01-01-03-07.flac", ROOT)
    with pytest.raises(Mismatch, match="'a5' \\(angry\\) sits in folder '03Happy'"):
        ased.parse_file(ROOT / "03Happy/a5-01-01-01-07.flac", ROOT)


# --- folder per label, CSV -------------------------------------------------------------


def test_folders_take_the_label_and_an_optional_speaker_folder():
    clip = folders.parse_file(ROOT / "Anger/spk9/session/take.wav", ROOT)
    assert (clip.label, clip.speaker, clip.gender) == ("angry", "spk9", "")
    assert folders.parse_file(ROOT / "happy/take.wav", ROOT).speaker == UNKNOWN_SPEAKER
    with pytest.raises(Mismatch, match="folder 'boredom' is not an emotion"):
        folders.parse_file(ROOT / "boredom/spk1/a.wav", ROOT)
    with pytest.raises(Mismatch, match="not inside a label folder"):
        folders.parse_file(ROOT / "loose.wav", ROOT)


def test_csv_reads_relative_paths_and_genders(csv_corpus):
    csv_path = csv_corpus()
    result = csvlist.parse(csv_path)
    assert len(result.clips) == 12 and not result.rejected
    assert result.clips[0].path == csv_path.parent / "clips" / "ann_neutral.wav"
    assert {c.speaker: c.gender for c in result.clips} == {
        "ann": FEMALE,
        "bob": MALE,
        "cat": FEMALE,
    }


def test_csv_rejects_bad_rows_with_row_numbers(csv_corpus, tmp_path, write_clip):
    elsewhere = write_clip(tmp_path / "elsewhere" / "dan.wav", "calm")
    odd_gender = write_clip(tmp_path / "elsewhere" / "eve.wav", "calm")
    csv_path = csv_corpus(
        [
            ("clips/nope.wav", "happy", "ann", ""),
            ("clips/ann_bored.wav", "bored", "ann", ""),
            ("./clips/ann_neutral.wav", "neutral", "ann", ""),
            (str(odd_gender), "calm", "eve", "x"),
            ("", "sad", "ann", ""),
            (str(elsewhere), "calm", "dan", "M"),
        ]
    )
    result = csvlist.parse(csv_path)
    assert [r.reason for r in result.rejected] == [
        "row 14: file not found",
        "row 15: label 'bored' is not one of " + ", ".join(EMOTIONS),
        "row 16: listed again (first on row 2)",
        "row 17: gender 'x' is not male, female or empty",
        "row 18: the path is empty",
    ]
    assert result.rejected[0].path == csv_path.parent / "clips" / "nope.wav"
    assert len(result.clips) == 13
    assert (result.clips[-1].path, result.clips[-1].gender) == (elsewhere, MALE)


def test_csv_accepts_aliases_optional_columns_and_keeps_extras(tmp_path, write_clip):
    write_clip(tmp_path / "a.wav", "sad")
    csv_path = tmp_path / "list.csv"
    csv_path.write_text("\ufeffFile,Emotion,take\na.wav,sadness,3\n", encoding="utf-8")
    (clip,) = csvlist.parse(csv_path).clips
    assert (clip.label, clip.speaker, clip.gender) == ("sad", UNKNOWN_SPEAKER, "")
    assert clip.fields == {"take": "3"}


def test_csv_without_a_header_fails_clearly(tmp_path):
    csv_path = tmp_path / "list.csv"
    csv_path.write_text("a.wav,happy\n")
    with pytest.raises(DatasetError, match="lacks column.*path, label.*header"):
        csvlist.parse(csv_path)
    with pytest.raises(DatasetError, match="takes a CSV file"):
        csvlist.parse(tmp_path)


# --- the registry ------------------------------------------------------------------------


def test_available_datasets_and_get_parser():
    names = datasets.available_datasets()
    assert names == ["ravdess", "cremad", "tess", "savee", "emodb", "ased", "folders", "csv"]
    assert datasets.get_parser("CREMA-D").name == "cremad"
    assert datasets.get_parser("Emo_DB").name == "emodb"
    with pytest.raises(DatasetError, match="unknown dataset 'iemocap'; use one of: auto, ravdess"):
        datasets.get_parser("iemocap")


@pytest.mark.parametrize(
    "factory, options, expected",
    [
        ("ravdess_corpus", {}, "ravdess"),
        ("ravdess_corpus", {"flat": True, "suffix": ".flac"}, "ravdess"),
        ("cremad_corpus", {}, "cremad"),
        ("tess_corpus", {}, "tess"),
        ("savee_corpus", {}, "savee"),
        ("savee_corpus", {"nested": True}, "savee"),
        ("emodb_corpus", {}, "emodb"),
        ("ased_corpus", {}, "ased"),
        ("folders_corpus", {}, "folders"),
        ("folders_corpus", {"with_speakers": False}, "folders"),
    ],
)
def test_detect_dataset_recognises_each_layout(request, factory, options, expected):
    root = request.getfixturevalue(factory)(**options)
    assert datasets.detect_dataset(root) == expected


def test_detect_dataset_picks_csv_for_a_csv_file(csv_corpus):
    assert datasets.detect_dataset(csv_corpus()) == "csv"


def test_detect_dataset_tolerates_a_few_strays(ravdess_corpus, write_clip):
    root = ravdess_corpus(actors=(1,))
    write_clip(root / "extra" / "note.wav")
    assert datasets.detect_dataset(root) == "ravdess"


def test_detect_dataset_fails_clearly(tmp_path, write_clip):
    with pytest.raises(DatasetError, match="corpus folder not found"):
        datasets.detect_dataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no audio files found"):
        datasets.detect_dataset(tmp_path / "empty")
    for i in range(3):
        write_clip(tmp_path / "mixed" / f"recording{i}.wav")
    with pytest.raises(DatasetError, match="could not tell which corpus.*--dataset"):
        datasets.detect_dataset(tmp_path / "mixed")
