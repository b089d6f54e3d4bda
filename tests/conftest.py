"""Shared fixtures: a private SER_HOME, and small synthetic corpora in each naming convention.

Each corpus factory writes short seeded clips (CLIP_SECONDS) under ``tmp_path`` and returns the
corpus root, so a test builds only what it needs and runs in well under a second.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest

from ser_cli.audio.io import SAMPLE_RATE, write_audio
from ser_cli.audio.synthetic import synth_clip
from ser_cli.labels import EMOTIONS
from ser_cli.paths import HOME_ENV

CLIP_SECONDS = 0.5  # long enough to pass audio.MIN_DURATION, short enough to be fast

# Corpus codes for the canonical emotions, as each corpus spells them.
CREMAD_CODES = {"angry": "ANG", "disgust": "DIS", "fearful": "FEA", "happy": "HAP",
                "neutral": "NEU", "sad": "SAD"}  # fmt: skip
TESS_CODES = {"angry": "angry", "disgust": "disgust", "fearful": "fear", "happy": "happy",
              "neutral": "neutral", "sad": "sad", "surprised": "ps"}  # fmt: skip
SAVEE_CODES = {"angry": "a", "disgust": "d", "fearful": "f", "happy": "h", "neutral": "n",
               "sad": "sa", "surprised": "su"}  # fmt: skip
EMODB_CODES = {"angry": "W", "disgust": "E", "fearful": "A", "happy": "F", "sad": "T",
               "neutral": "N"}  # fmt: skip

WriteClip = Callable[..., Path]


@pytest.fixture(autouse=True)
def ser_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point SER_HOME at a temporary folder so no test touches the real user folder."""
    home = tmp_path / "ser_home"
    monkeypatch.setenv(HOME_ENV, str(home))
    return home


@pytest.fixture(autouse=True)
def synthetic_speech(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Let synthetic tones pass the speech check, except in tests marked ``vad``.

    ``synth_clip`` is tonal, not speech, and Silero rightly calls most of it non-speech; the
    tests of everything after the check (training, formats, errors) pretend any audible clip is
    speech. The tests of the check itself (marked ``vad``) run the real detector.
    """
    if request.node.get_closest_marker("vad"):
        return
    from ser_cli.audio.io import SILENCE_PEAK
    from ser_cli.audio.vad import VoiceActivity

    monkeypatch.setattr(
        VoiceActivity,
        "has_speech",
        lambda self, samples: bool(samples.size and np.abs(samples).max() >= SILENCE_PEAK),
    )


@pytest.fixture
def write_clip() -> WriteClip:
    """Factory: write one synthetic clip; any libsndfile suffix, any rate, mono or stereo."""

    def write(
        path: Path,
        emotion: str = "neutral",
        speaker: int = 0,
        *,
        sample_rate: int = SAMPLE_RATE,
        channels: int = 1,
        duration: float = CLIP_SECONDS,
        seed: int = 0,
    ) -> Path:
        signal = synth_clip(emotion, speaker, duration=duration, sample_rate=sample_rate, seed=seed)
        if channels > 1:
            # Slightly different levels per channel, as a real stereo recording has.
            signal = np.stack([signal * (1.0 - 0.1 * c) for c in range(channels)], axis=1)
        return write_audio(path, signal, sample_rate)

    return write


@pytest.fixture
def make_corpus(tmp_path: Path, write_clip: WriteClip) -> Callable[..., Path]:
    """Factory: write ``(relative path, emotion)`` files under ``tmp_path/name``."""

    def make(files: Iterable[tuple[str, str]], *, name: str = "corpus", **clip_options) -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        for index, (relative, emotion) in enumerate(files):
            write_clip(root / relative, emotion, speaker=index % 7, seed=index, **clip_options)
        return root

    return make


@pytest.fixture
def ravdess_corpus(make_corpus) -> Callable[..., Path]:
    """Factory: RAVDESS speech, one clip per actor and emotion (6 actors: 48 clips).

    ``flat`` drops the Actor_XX folders; ``suffix`` picks .wav or .flac.
    """

    def make(
        actors: Iterable[int] = range(1, 7),
        emotions: Iterable[str] = EMOTIONS,
        *,
        flat: bool = False,
        suffix: str = ".wav",
        name: str = "ravdess",
        **clip_options,
    ) -> Path:
        files = []
        for actor in actors:
            for emotion in emotions:
                stem = f"03-01-{EMOTIONS.index(emotion) + 1:02d}-01-01-01-{actor:02d}"
                folder = "" if flat else f"Actor_{actor:02d}/"
                files.append((f"{folder}{stem}{suffix}", emotion))
        return make_corpus(files, name=name, **clip_options)

    return make


@pytest.fixture
def cremad_corpus(make_corpus) -> Callable[..., Path]:
    """Factory: CREMA-D, one clip per speaker and emotion (4 speakers: 24 clips)."""

    def make(speakers: Iterable[int] = range(1001, 1005), *, name: str = "cremad") -> Path:
        files = [
            (f"{speaker}_DFA_{code}_XX.wav", emotion)
            for speaker in speakers
            for emotion, code in CREMAD_CODES.items()
        ]
        return make_corpus(files, name=name)

    return make


@pytest.fixture
def tess_corpus(make_corpus) -> Callable[..., Path]:
    """Factory: TESS in its OAF_angry/ folder layout, one word per emotion (14 clips)."""

    def make(*, name: str = "tess") -> Path:
        files = [
            (f"{speaker}_{code}/{speaker}_back_{code}.wav", emotion)
            for speaker in ("OAF", "YAF")
            for emotion, code in TESS_CODES.items()
        ]
        return make_corpus(files, name=name)

    return make


@pytest.fixture
def savee_corpus(make_corpus) -> Callable[..., Path]:
    """Factory: SAVEE, flat DC_a01.wav or nested DC/a01.wav (28 clips)."""

    def make(*, nested: bool = False, name: str = "savee") -> Path:
        files = [
            (f"{speaker}/{code}01.wav" if nested else f"{speaker}_{code}01.wav", emotion)
            for speaker in ("DC", "JE", "JK", "KL")
            for emotion, code in SAVEE_CODES.items()
        ]
        return make_corpus(files, name=name)

    return make


@pytest.fixture
def emodb_corpus(make_corpus) -> Callable[..., Path]:
    """Factory: EmoDB, speakers 03 10 (male) 08 09 (female), six emotions plus boredom."""

    def make(*, boredom: bool = True, name: str = "emodb") -> Path:
        speakers = ("03", "08", "09", "10")
        files = [
            (f"{speaker}a01{code}a.wav", emotion)
            for speaker in speakers
            for emotion, code in EMODB_CODES.items()
        ]
        if boredom:  # boredom has no canonical label: the audio's emotion does not matter
            files += [(f"{speaker}a01La.wav", "neutral") for speaker in speakers]
        return make_corpus(files, name=name)

    return make


@pytest.fixture
def ased_corpus(make_corpus) -> Callable[..., Path]:
    """Factory: ASED, its five emotion folders, one clip per speaker and emotion."""

    def make(speakers: Iterable[int] = range(1, 7), *, name: str = "ased") -> Path:
        folders = {"n1": "01Neutral", "f2": "02Fearful", "h3": "03Happy", "s4": "04Sad"}
        folders["a5"] = "05Angry"
        emotions = dict(zip(folders, ("neutral", "fearful", "happy", "sad", "angry"), strict=True))
        files = [
            (f"{folders[code]}/{code}-01-01-{1 + speaker % 2:02d}-{speaker:02d}.wav", emotion)
            for speaker in speakers
            for code, emotion in emotions.items()
        ]
        return make_corpus(files, name=name)

    return make


@pytest.fixture
def folders_corpus(make_corpus) -> Callable[..., Path]:
    """Factory: a folder per label, <label>/<speaker>/clip.wav (or <label>/clip.wav)."""

    def make(
        speakers: Iterable[str] = ("spk1", "spk2", "spk3", "spk4"),
        emotions: Iterable[str] = EMOTIONS,
        *,
        with_speakers: bool = True,
        name: str = "folders",
    ) -> Path:
        files = [
            (
                f"{emotion}/{speaker}/take1.wav" if with_speakers else f"{emotion}/{speaker}.wav",
                emotion,
            )
            for speaker in speakers
            for emotion in emotions
        ]
        return make_corpus(files, name=name)

    return make


@pytest.fixture
def csv_corpus(make_corpus) -> Callable[..., Path]:
    """Factory: 3 speakers x 4 emotions of clips under clips/, and list.csv beside them.

    The CSV lists the clips with paths relative to its folder, under ``header``; ``extra_rows``
    are appended as given (to test bad rows).
    """

    def make(
        extra_rows: Iterable[Iterable[str]] = (),
        *,
        header: Iterable[str] = ("path", "label", "speaker", "gender"),
    ) -> Path:
        speakers = (("ann", "f"), ("bob", "m"), ("cat", "female"))
        emotions = ("neutral", "happy", "sad", "angry")
        rows = [
            (f"clips/{speaker}_{emotion}.wav", emotion, speaker, gender)
            for speaker, gender in speakers
            for emotion in emotions
        ]
        root = make_corpus([(row[0], row[1]) for row in rows], name="csvlist")
        csv_path = root / "list.csv"
        with csv_path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows([*rows, *extra_rows])
        return csv_path

    return make
