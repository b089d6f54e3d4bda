"""Long recordings by utterance, and no emotion where nobody speaks.

The speech check and the utterance boundaries run the real Silero detector (marked ``vad``) on
the RAVDESS example clips, which ship with the project, placed at known times in a recording.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ser_cli.audio.io import SAMPLE_RATE, load_audio, write_audio
from ser_cli.audio.vad import CHUNK_SECONDS, MIN_SPEECH, SPEECH_PAD, speech_spans
from ser_cli.cli import app
from ser_cli.errors import SerError, UsageError
from ser_cli.inference import segment
from ser_cli.inference.load import load_predictor
from ser_cli.inference.options import PAUSE, PredictOptions
from ser_cli.inference.predictor import predict_files
from ser_cli.inference.segment import CONTEXT, OVERLAP, plan_rows, utterances
from ser_cli.labels import EMOTIONS, SILENCE
from ser_cli.render.predict import audacity_labels, subtitles, timeline_rows

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ beside the package
from benchmarks.segmentation import sentence  # noqa: E402  (the loudness truth, shared)

runner = CliRunner()
EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.wav"))
TOLERANCE = 0.3  # seconds: an utterance boundary this close to the truth is found
FLOOR = 1e-4  # amplitude of the "silence" between utterances: a room, not digital zero


def recording(
    pauses: list[float], seed: int = 0, files: list[Path] = EXAMPLES
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Clips (trimmed to their speech) with ``pauses`` (s) of room noise before each and after
    the last -> (samples, true (start, end) of each utterance)."""
    rng = np.random.default_rng(seed)
    parts, truth, t = [], [], 0.0
    clips = [sentence(load_audio(p)) for p in files]
    for i, pause in enumerate(pauses[:-1]):
        parts.append(FLOOR * rng.standard_normal(int(pause * SAMPLE_RATE)).astype(np.float32))
        t += pause
        clip = clips[i % len(clips)]
        parts.append(clip)
        truth.append((t, t + len(clip) / SAMPLE_RATE))
        t += len(clip) / SAMPLE_RATE
    parts.append(FLOOR * rng.standard_normal(int(pauses[-1] * SAMPLE_RATE)).astype(np.float32))
    return np.concatenate(parts), truth


CLEAR_MARGIN = 0.2  # top probability over the second: a call a shift of frames leaves alone


@pytest.fixture(scope="module")
def predictor():
    return load_predictor("default")


# --- speech stretches and rows: pure functions --------------------------------------------


def test_speech_spans_follow_silero_hysteresis_and_drop_clicks():
    chunks = int(round(1.0 / CHUNK_SECONDS))  # about a second of chunks
    probs = np.zeros(3 * chunks, dtype=np.float32)
    probs[chunks : 2 * chunks] = 0.9  # a second of speech
    probs[2 * chunks : 2 * chunks + 3] = 0.4  # above threshold - hysteresis: still speech
    probs[int(2.5 * chunks)] = 0.99  # a click: one chunk
    [(start, end)] = speech_spans(probs)
    assert start == pytest.approx(chunks * CHUNK_SECONDS - SPEECH_PAD)
    assert end == pytest.approx((2 * chunks + 3) * CHUNK_SECONDS + SPEECH_PAD)
    short = np.zeros(chunks, dtype=np.float32)
    short[: int(MIN_SPEECH / CHUNK_SECONDS) - 1] = 0.9
    assert speech_spans(short) == []


def test_rows_bridge_short_pauses_mark_long_ones_and_tile_the_recording():
    spans = [(1.0, 2.0), (2.2, 3.0), (5.0, 6.0), (6.8, 7.6)]
    assert utterances(spans, 8.0, PAUSE) == [(1.0, 3.0), (5.0, 6.0), (6.8, 8.0)]
    rows = plan_rows(spans, 8.0, longest=8.0, pause=PAUSE)
    got = [(r.start, r.end, r.speech) for r in rows]
    assert got == [
        (0.0, 1.0, False),
        (1.0, 3.0, True),
        (3.0, 5.0, False),
        (5.0, 6.0, True),
        (6.0, 6.8, False),
        (6.8, 8.0, True),  # the end is closer than a pause: it joins the utterance
    ]
    assert plan_rows([], 3.0, 8.0, PAUSE) == [plan_rows([], 3.0, 8.0, PAUSE)[0]]
    assert not plan_rows([], 3.0, 8.0, PAUSE)[0].speech


def test_an_utterance_longer_than_the_model_reads_is_split_with_overlap():
    rows = plan_rows([(0.0, 20.0)], 20.0, longest=8.0, pause=PAUSE)
    assert [r.speech for r in rows] == [True] * 3
    assert rows[0].start == 0.0 and rows[-1].end == 20.0
    for a, b in zip(rows, rows[1:], strict=False):
        assert a.end == pytest.approx(b.start)  # the rows never overlap...
        assert a.audio_end - b.audio_start == pytest.approx(OVERLAP)  # ...the audio does
    assert all(r.audio_end - r.audio_start <= 8.0 + 1e-9 for r in rows)


def test_an_utterance_is_classified_with_context_from_its_half_of_each_pause():
    # utterances (0, 1) [joined to the file's start], (3, 4), (4.4, 5.5), (7, 8) [joined to
    # its end]; the 0.4 s pause between the middle two is shared at its middle
    spans = [(0.1, 1.0), (3.0, 4.0), (4.4, 5.5), (7.0, 7.9)]
    rows = [r for r in plan_rows(spans, 8.0, longest=8.0, pause=0.3) if r.speech]
    assert [(r.start, r.end) for r in rows] == [(0.0, 1.0), (3.0, 4.0), (4.4, 5.5), (7.0, 8.0)]
    audio = [edge for r in rows for edge in (r.audio_start, r.audio_end)]
    assert audio == pytest.approx(  # (pytest 9.2 compares flat sequences only)
        [
            *(0.0, 1.0 + CONTEXT),  # clipped to the file's start
            *(3.0 - CONTEXT, 4.2),  # the middle of the short pause, never the neighbour
            *(4.2, 5.5 + CONTEXT),
            *(7.0 - CONTEXT, 8.0),  # clipped to the file's end
        ]
    )


def test_context_never_makes_the_audio_longer_than_the_model_reads():
    [row] = [r for r in plan_rows([(3.0, 10.9)], 14.0, longest=8.0, pause=PAUSE) if r.speech]
    assert (row.start, row.end) == (3.0, 10.9)
    assert row.audio_end - row.audio_start == pytest.approx(8.0)
    assert row.audio_start == pytest.approx(2.95) and row.audio_end == pytest.approx(10.95)


def test_a_split_utterance_gets_context_on_its_outer_edges_and_overlap_inside():
    rows = [r for r in plan_rows([(2.0, 22.0)], 24.0, longest=8.0, pause=PAUSE) if r.speech]
    assert len(rows) == 3 and rows[0].start == 2.0 and rows[-1].end == 22.0
    assert rows[0].audio_start == pytest.approx(2.0 - CONTEXT)
    assert rows[-1].audio_end == pytest.approx(22.0 + CONTEXT)
    for a, b in zip(rows, rows[1:], strict=False):
        assert a.end == pytest.approx(b.start)
        assert a.audio_end - b.audio_start == pytest.approx(OVERLAP)
    assert all(r.audio_end - r.audio_start <= 8.0 + 1e-9 for r in rows)


def _laid_out(pieces: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(gap before, length) of each stretch of speech -> (start, end) of each."""
    spans, t = [], 0.0
    for gap, length in pieces:
        spans.append((t + gap, t + gap + length))
        t += gap + length
    return spans


@settings(max_examples=200, deadline=None)
@given(
    spans=st.lists(st.tuples(st.floats(0.05, 3.0), st.floats(0.3, 12.0)), max_size=8).map(
        _laid_out
    ),
    tail=st.floats(0.0, 3.0),
    pause=st.floats(0.1, 1.5),
)
def test_context_widens_only_the_audio_never_into_a_neighbour_or_past_the_file(spans, tail, pause):
    duration = (spans[-1][1] if spans else 0.0) + tail + 0.1
    rows = plan_rows(spans, duration, longest=8.0, pause=pause)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(segment, "CONTEXT", 0.0)
        bare = plan_rows(spans, duration, longest=8.0, pause=pause)
    # the rows reported are the same with or without context, and tile the file
    assert [(r.start, r.end, r.speech) for r in rows] == [(r.start, r.end, r.speech) for r in bare]
    assert rows[0].start == 0.0 and rows[-1].end == pytest.approx(duration)
    found = utterances(spans, duration, pause)
    for r, b in zip(rows, bare, strict=True):
        assert 0.0 <= r.audio_start <= r.start and r.end <= r.audio_end <= duration + 1e-9
        assert r.audio_end - r.audio_start <= 8.0 + 1e-9
        assert b.audio_start - CONTEXT - 1e-9 <= r.audio_start <= b.audio_start
        assert b.audio_end <= r.audio_end <= b.audio_end + CONTEXT + 1e-9
        if not r.speech:
            continue
        k = next(i for i, u in enumerate(found) if u[0] <= r.start and r.end <= u[1])
        if k > 0:  # never before the middle of the pause that comes before
            assert r.audio_start >= (found[k - 1][1] + found[k][0]) / 2 - 1e-9
        if k + 1 < len(found):  # nor past the middle of the one after
            assert r.audio_end <= (found[k][1] + found[k + 1][0]) / 2 + 1e-9


def test_options_are_checked_once_for_every_engine():
    assert PredictOptions().mode == "vad"
    assert PredictOptions(window=3.0).mode == "fixed"
    assert PredictOptions(segment="fixed").windows(8.0) == (8.0, 4.0)
    with pytest.raises(UsageError, match="--segment fixed"):
        PredictOptions(segment="vad", window=3.0)
    with pytest.raises(UsageError, match="--window must be at least"):
        PredictOptions(window=0.05, hop=0.05)
    with pytest.raises(UsageError, match="--pause"):
        PredictOptions(pause=0)
    with pytest.raises(SerError, match="min-confidence"):
        PredictOptions(min_confidence=2)


# --- the real speech check -------------------------------------------------------------------


def _no_speech(kind: str, seconds: float) -> np.ndarray:
    n = int(round(seconds * SAMPLE_RATE))
    if kind == "silence":
        return np.zeros(n, dtype=np.float32)
    if kind == "click":
        x = np.zeros(n, dtype=np.float32)
        x[n // 2] = 0.9
        return x
    return (0.05 * np.random.default_rng(0).standard_normal(n)).astype(np.float32)  # noise


@pytest.mark.vad
@pytest.mark.parametrize("kind", ["silence", "click", "noise"])
@pytest.mark.parametrize("seconds", [0.5, 3.0, 3.1, 12.0])
def test_audio_without_speech_is_silence_not_an_emotion(kind, seconds, tmp_path):
    path = write_audio(tmp_path / f"{kind}.wav", _no_speech(kind, seconds))
    result = runner.invoke(app, ["predict", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.stdout)
    assert item["label"] == SILENCE and item["probabilities"] is None
    assert all(
        s["label"] == SILENCE and s["probabilities"] is None for s in item.get("segments", [])
    )


@pytest.mark.vad
def test_silence_is_counted_in_the_summary_line(tmp_path):
    quiet = write_audio(tmp_path / "quiet.wav", _no_speech("silence", 3.0))
    result = runner.invoke(app, ["predict", str(quiet), str(EXAMPLES[0])])
    assert result.exit_code == 0, result.output
    assert "2 file(s): 1 with speech, 1 without speech (silence), 0 failed" in result.output


@pytest.mark.vad
def test_utterances_are_found_within_tolerance_and_pauses_are_silence(predictor, tmp_path):
    pauses = [1.0, 1.5, 2.0, 3.0, 1.2, 2.5]
    samples, truth = recording(pauses)
    path = write_audio(tmp_path / "talk.wav", samples)
    [result] = predict_files(predictor, [path])
    speech = [s for s in result.segments if s.label != SILENCE]
    assert len(speech) == len(truth), [(s.start, s.end, s.label) for s in result.segments]
    for s, (start, end) in zip(speech, truth, strict=True):
        assert abs(s.start - start) <= TOLERANCE and abs(s.end - end) <= TOLERANCE
        assert s.label in EMOTIONS and s.probabilities is not None
    silent = [s for s in result.segments if s.label == SILENCE]
    assert len(silent) == len(pauses)  # every pause of a second or more
    assert result.segments[0].start == 0 and result.segments[-1].end == pytest.approx(
        result.duration
    )
    # the file's summary: the utterances' probabilities weighted by their duration
    weights = np.array([s.end - s.start for s in speech])
    mean = np.average([[s.probabilities[k] for k in EMOTIONS] for s in speech], 0, weights)
    assert result.probabilities == pytest.approx(dict(zip(EMOTIONS, mean, strict=True)))
    # each utterance is classified as the clip alone is, through the one inference path: a clip
    # the model calls clearly alone gets that call in the recording (a near-tie may flip with
    # where the 10 ms frames fall: docs/long-recordings.md), and most calls here are clear
    alone = predict_files(predictor, EXAMPLES[: len(truth)])
    clear = 0
    for utterance, clip in zip(speech, alone, strict=True):
        first, second = sorted(clip.probabilities.values(), reverse=True)[:2]
        if first - second >= CLEAR_MARGIN:
            clear += 1
            assert utterance.label == clip.label, (clip.path, clip.probabilities)
    assert clear >= len(alone) - 2


@pytest.mark.vad
def test_context_gives_the_model_the_speech_the_detector_cut_off(predictor, tmp_path):
    # Silero's spans can start inside a weak onset; with CONTEXT of the pause on each side the
    # model's own silence trim decides where each utterance begins, as for the clip alone
    samples, truth = recording([1.0, 1.5, 2.0, 1.2, 2.5, 1.0, 1.8, 1.3, 1.0])
    path = write_audio(tmp_path / "talk.wav", samples)
    features = predictor.features

    def classified(context: float):
        seen = []  # (seconds of audio, frames after the trim) of each utterance classified

        def spy(x):
            f = features(x)
            seen.append((len(x) / SAMPLE_RATE, len(f)))
            return f

        with pytest.MonkeyPatch.context() as m:
            m.setattr(segment, "CONTEXT", context)
            m.setattr(predictor, "features", spy)
            [result] = predict_files(predictor, [path])
        return [s for s in result.segments if s.label != SILENCE], seen

    rows, padded = classified(CONTEXT)
    bare_rows, bare = classified(0.0)
    assert len(rows) == len(truth) == len(padded) == len(bare)
    assert [(s.start, s.end) for s in rows] == [(s.start, s.end) for s in bare_rows]
    for s, (seconds, _), (bare_seconds, _) in zip(rows, padded, bare, strict=True):
        assert bare_seconds == pytest.approx(s.end - s.start, abs=1 / SAMPLE_RATE)
        assert seconds == pytest.approx(s.end - s.start + 2 * CONTEXT, abs=1 / SAMPLE_RATE)
    frames, bare_frames = [f for _, f in padded], [f for _, f in bare]
    assert all(a >= b for a, b in zip(frames, bare_frames, strict=True))
    assert any(a > b for a, b in zip(frames, bare_frames, strict=True)), frames
    alone = [len(features(load_audio(p))) for p in EXAMPLES[: len(truth)]]
    gap = lambda got: sum(abs(a - b) for a, b in zip(got, alone, strict=True))  # noqa: E731
    assert gap(frames) < gap(bare_frames), (frames, bare_frames, alone)


RAVDESS_16K = Path(__file__).resolve().parents[2] / "shared" / "data" / "ravdess-speech-16k"


@pytest.mark.realdata
@pytest.mark.vad
@pytest.mark.skipif(not RAVDESS_16K.is_dir(), reason="../shared/data/ravdess-speech-16k absent")
def test_utterance_boundaries_on_other_speakers(predictor, tmp_path):
    # one clip of each of 8 actors, every emotion, both statements: other voices than examples/
    files = [
        next(iter(sorted(RAVDESS_16K.rglob(f"03-01-0{e}-*-0{1 + a % 2}-01-{a:02d}.flac"))))
        for e, a in zip(range(1, 9), (2, 5, 7, 10, 13, 16, 18, 19), strict=True)
    ]
    pauses = [1.0, 1.3, 2.7, 1.1, 2.2, 1.6, 3.0, 1.4, 1.8]
    samples, truth = recording(pauses, seed=1, files=files)
    [result] = predict_files(predictor, [write_audio(tmp_path / "talk.wav", samples)])
    speech = [s for s in result.segments if s.label != SILENCE]
    found = sum(
        any(abs(s.start - a) <= TOLERANCE and abs(s.end - b) <= TOLERANCE for s in speech)
        for a, b in truth
    )
    assert found == len(truth), [(s.start, s.end, s.label) for s in result.segments]
    assert sum(s.label == SILENCE for s in result.segments) == len(pauses)


@pytest.mark.vad
def test_fixed_windows_are_still_there(predictor, tmp_path):
    samples, _ = recording([1.0, 1.0, 1.0, 1.0])
    path = write_audio(tmp_path / "talk.wav", samples)
    [result] = predict_files(predictor, [path], segment="fixed", window=3.0)
    assert [s.start for s in result.segments[:3]] == [0.0, 1.5, 3.0]


# --- formats that tools open ----------------------------------------------------------------


SRT = re.compile(r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n(.+)\n")
VTT = re.compile(r"(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})\n(.+)\n")


def _seconds(h, m, s, ms) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


@pytest.fixture(scope="module")
def long_result(predictor, tmp_path_factory):
    samples, _ = recording([1.0, 2.0, 1.0, 1.5])
    path = write_audio(tmp_path_factory.mktemp("long") / "talk.wav", samples)
    [result] = predict_files(predictor, [path])
    return result


@pytest.mark.vad
def test_audacity_labels_round_trip(long_result):
    text = audacity_labels(long_result)
    parsed = [line.split("\t") for line in text.splitlines()]
    expected = timeline_rows(long_result)
    assert len(parsed) == len(expected) == len(long_result.segments)
    for (a, b, label), (start, end, want, _) in zip(parsed, expected, strict=True):
        assert float(a) == pytest.approx(start, abs=5e-4) and float(b) == pytest.approx(
            end, abs=5e-4
        )
        assert label == want


@pytest.mark.vad
@pytest.mark.parametrize("kind", ["srt", "vtt"])
def test_subtitles_round_trip(long_result, kind):
    text = subtitles(long_result, kind)
    if kind == "vtt":
        assert text.startswith("WEBVTT\n\n")
        cues = [(_seconds(*m[:4]), _seconds(*m[4:8]), m[8]) for m in VTT.findall(text)]
    else:
        found = SRT.findall(text)
        assert [int(m[0]) for m in found] == list(range(1, len(found) + 1))
        cues = [(_seconds(*m[1:5]), _seconds(*m[5:9]), m[9]) for m in found]
    expected = timeline_rows(long_result)
    assert len(cues) == len(expected)
    for (a, b, cue), (start, end, label, top) in zip(cues, expected, strict=True):
        assert a == pytest.approx(start, abs=5e-4) and b == pytest.approx(end, abs=5e-4)
        assert cue == (label if top is None else f"{label} {top:.0%}")


@pytest.mark.vad
def test_cli_writes_subtitles_for_one_recording_only(long_result, tmp_path):
    out = tmp_path / "talk.srt"
    ok = runner.invoke(app, ["predict", long_result.path, "-o", str(out)])
    assert ok.exit_code == 0, ok.output
    assert out.read_text() == subtitles(long_result, "srt")
    two = runner.invoke(app, ["predict", *map(str, EXAMPLES[:2]), "--format", "vtt"])
    assert two.exit_code == 2 and "describes one recording" in two.output


def test_window_with_vad_and_pause_with_fixed_are_refused(tmp_path):
    clip = str(EXAMPLES[0])
    bad = runner.invoke(app, ["predict", clip, "--segment", "vad", "--window", "3"])
    assert bad.exit_code == 2 and "--segment fixed" in bad.output
    bad = runner.invoke(app, ["predict", clip, "--window", "3", "--pause", "1"])
    assert bad.exit_code == 2 and "--pause" in bad.output


def test_cli_choices_are_the_library_modes():
    from ser_cli import cli
    from ser_cli.inference.options import SEGMENT_MODES

    assert [m.value for m in cli.Segment] == list(SEGMENT_MODES)
    assert {"audacity", "srt", "vtt"} == set(cli.TIMELINE_FORMATS)


def test_predict_help_states_the_library_pause():
    result = runner.invoke(app, ["predict", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert f"[default: ({PAUSE:g})]" in result.output
