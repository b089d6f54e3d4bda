"""`ser listen`: audio sources, the streaming pipeline, smoothing, the CSV log and the CLI.

No microphone, network or GPU: the microphone is a fake PyAudio-shaped module, files are fed
with FileSource at high speed, and the model is a tiny 'classic' run trained once per session
on synthetic clips (about a second). Speech comes from the RAVDESS clips in examples/.
"""

from __future__ import annotations

import csv
import re
import shlex
import shutil
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from ser_cli.audio.io import SAMPLE_RATE, load_audio, write_audio
from ser_cli.audio.vad import CHUNK
from ser_cli.cli import app
from ser_cli.errors import DeviceError, SerError
from ser_cli.features.normalization import Stats
from ser_cli.labels import SILENCE
from ser_cli.listen.session import run_listen
from ser_cli.listen.sources import (
    PYAUDIO_MISSING,
    FileSource,
    InputDevice,
    PyAudioSource,
    list_input_devices,
)
from ser_cli.listen.stream import (
    ListenOptions,
    StreamProcessor,
    decay_to_flat,
    iter_updates,
    smooth,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SPEECH_CLIP = EXAMPLES / "calm_actor22_03-01-02-02-01-01-22.wav"  # RAVDESS speech, 3.7 s
SENTENCE = (1.0, 2.9)  # seconds of SPEECH_CLIP that hold the sentence
TRAIN_EMOTIONS = ("neutral", "happy", "sad", "angry")
GAP_SECONDS = 3.0  # silence in the middle of the gap recording
NOISE_FLOOR = 1e-4  # amplitude of the "silence": a real room is never digital zero
FAST = 1000.0  # FileSource speed for tests: no real waiting
TERM_COLS, TERM_ROWS = 100, 30  # tmux window for the live-display test


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    """A real 'classic' run folder trained on 16 synthetic clips, speaker normalisation on."""
    from ser_cli.audio.synthetic import synth_clip
    from ser_cli.config import load_run_config
    from ser_cli.training.trainer import train_run

    root = tmp_path_factory.mktemp("listen_model")
    rows = []
    for speaker in range(4):
        for emotion in TRAIN_EMOTIONS:
            path = write_audio(
                root / "clips" / f"{speaker}_{emotion}.wav",
                synth_clip(emotion, speaker, duration=1.0, seed=speaker),
            )
            rows.append(
                {
                    "path": str(path),
                    "label": emotion,
                    "speaker": f"s{speaker}",
                    "split": "val" if speaker == 3 else "train",
                }
            )
    cfg = load_run_config(None, ["train.epochs=1", "train.device=cpu"], model="classic")
    train_run(rows, cfg, root / "run", cache_root=root / "cache")
    return root / "run"


@pytest.fixture(scope="session")
def predictor(run_dir):
    from ser_cli.inference.load import load_predictor

    return load_predictor(str(run_dir))


@pytest.fixture(scope="session")
def speech() -> np.ndarray:
    """The clip's sentence without the second of silence a RAVDESS clip has at each end."""
    start, end = SENTENCE
    return load_audio(SPEECH_CLIP)[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]


@pytest.fixture(scope="session")
def gap_recording(tmp_path_factory, speech) -> tuple[Path, float, float]:
    """speech, GAP_SECONDS of near-silence, speech -> (path, gap start s, gap end s)."""
    rng = np.random.default_rng(0)
    gap = (NOISE_FLOOR * rng.standard_normal(int(GAP_SECONDS * SAMPLE_RATE))).astype(np.float32)
    path = tmp_path_factory.mktemp("gap") / "gap.wav"
    write_audio(path, np.concatenate([speech, gap, speech]))
    start = len(speech) / SAMPLE_RATE
    return path, start, start + GAP_SECONDS


# --- a fake PyAudio -------------------------------------------------------------------------


class FakeStream:
    """Plays ``signal`` as int16 bytes; past its end raises KeyboardInterrupt (the user's Ctrl-C)."""

    def __init__(self, signal: np.ndarray, kwargs: dict):
        self.pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes()
        self.kwargs = kwargs
        self.position = 0
        self.reads: list[int] = []
        self.started = self.stopped = self.closed = False

    def read(self, frames: int, exception_on_overflow: bool = True) -> bytes:
        assert exception_on_overflow is False, "a slow hop must not crash the stream"
        assert self.started and not self.closed
        if self.position >= len(self.pcm):
            raise KeyboardInterrupt
        self.reads.append(frames)
        chunk = self.pcm[self.position : self.position + 2 * frames]
        self.position += 2 * frames
        return chunk + b"\0" * (2 * frames - len(chunk))

    def start_stream(self) -> None:
        self.started = True

    def stop_stream(self) -> None:
        self.stopped = True

    def close(self) -> None:
        self.closed = True


class FakePyAudio:
    """Shaped like the ``pyaudio`` module: PyAudio(), paInt16, device queries and open()."""

    paInt16, paFloat32 = 8, 1

    def __init__(
        self,
        devices: list[dict],
        signal: np.ndarray | None = None,
        rates: tuple[int, ...] | None = None,
    ):
        self.devices = devices
        self.signal = signal if signal is not None else np.zeros(SAMPLE_RATE, np.float32)
        self.rates = rates  # sample rates open() accepts; None: any
        self.streams: list[FakeStream] = []
        self.terminated = 0

    def PyAudio(self):  # noqa: N802 - the real module's spelling
        fake = self

        class Instance:
            def get_device_count(self):
                return len(fake.devices)

            def get_device_info_by_index(self, index):
                return fake.devices[index]

            def get_default_input_device_info(self):
                inputs = [d for d in fake.devices if d["maxInputChannels"] > 0]
                if not inputs:
                    raise OSError("No Default Input Device Available")
                return inputs[0]

            def open(self, **kwargs):
                if fake.rates is not None and kwargs["rate"] not in fake.rates:
                    raise ValueError("Invalid sample rate")
                stream = FakeStream(fake.signal, kwargs)
                fake.streams.append(stream)
                return stream

            def terminate(self):
                fake.terminated += 1

        return Instance()


def device(index: int, name: str, inputs: int = 1, rate: float = 44100.0) -> dict:
    return {"index": index, "name": name, "maxInputChannels": inputs, "defaultSampleRate": rate}


SPEAKERS = device(0, "Fake Speakers", 0)  # output only
MIC = device(1, "Fake USB Mic", 1, 48000.0)


# --- audio sources ------------------------------------------------------------------------


def test_pyaudio_source_reads_int16_blocks_as_float(speech):
    fake = FakePyAudio([SPEAKERS, MIC], speech[SAMPLE_RATE:])
    source = PyAudioSource(block=0.1, pyaudio_module=fake)
    blocks = list(islice(iter(source), 5))
    source.close()
    stream = fake.streams[0]
    assert stream.kwargs["rate"] == SAMPLE_RATE and stream.kwargs["channels"] == 1
    assert (
        stream.kwargs["format"] == FakePyAudio.paInt16 and stream.kwargs["input_device_index"] == 1
    )
    assert stream.kwargs["frames_per_buffer"] == 1600
    assert all(b.dtype == np.float32 and b.shape == (1600,) for b in blocks)
    np.testing.assert_allclose(
        np.concatenate(blocks), speech[SAMPLE_RATE : SAMPLE_RATE + 8000], atol=1 / 16000
    )
    assert stream.stopped and stream.closed and fake.terminated == 1
    assert source.description == "microphone 'Fake USB Mic'"


def test_pyaudio_source_falls_back_to_the_device_rate():
    tone = np.sin(2 * np.pi * 440 * np.arange(48000) / 48000).astype(np.float32) * 0.5
    fake = FakePyAudio([SPEAKERS, MIC], tone, rates=(48000,))
    source = PyAudioSource(block=0.1, pyaudio_module=fake)
    assert source.rate == 48000
    out = np.concatenate(list(islice(iter(source), 9)))
    source.close()
    assert 0 <= 0.9 * SAMPLE_RATE - out.size < 0.05 * SAMPLE_RATE  # soxr holds back a few ms


def test_missing_pyaudio_is_a_device_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyaudio", None)  # `import pyaudio` now raises ImportError
    with pytest.raises(DeviceError) as err:
        PyAudioSource()
    assert str(err.value) == PYAUDIO_MISSING
    with pytest.raises(DeviceError, match="pip install 'ser-cli\\[mic\\]'"):
        list_input_devices()


def test_no_input_device_is_a_device_error():
    fake = FakePyAudio([SPEAKERS])
    with pytest.raises(DeviceError) as err:
        PyAudioSource(pyaudio_module=fake)
    assert "--list-devices" in str(err.value) and "--file" in str(err.value)
    assert fake.terminated == 1  # PortAudio released even on failure


def test_unknown_device_index_lists_the_choices():
    with pytest.raises(DeviceError, match="choose one of 1"):
        PyAudioSource(device_index=7, pyaudio_module=FakePyAudio([SPEAKERS, MIC]))


def test_list_input_devices_keeps_inputs_only():
    devices = list_input_devices(FakePyAudio([SPEAKERS, MIC, device(2, "Line In", 2, 44100.0)]))
    assert devices == [
        InputDevice(1, "Fake USB Mic", 1, 48000.0),
        InputDevice(2, "Line In", 2, 44100.0),
    ]


def test_file_source_blocks_rebuild_the_file(speech, tmp_path):
    path = write_audio(tmp_path / "speech.wav", speech)
    blocks = list(FileSource(path, speed=0))
    assert all(b.size == 1600 for b in blocks[:-1])
    np.testing.assert_array_equal(np.concatenate(blocks), load_audio(path))


def test_file_source_resamples_without_block_edges(speech, tmp_path):
    from ser_cli.audio.io import resample

    path = write_audio(tmp_path / "speech44k.wav", resample(speech, SAMPLE_RATE, 44100), 44100)
    streamed = np.concatenate(list(FileSource(path, speed=0)))
    whole = load_audio(path)
    assert abs(streamed.size - whole.size) <= 2
    n = min(streamed.size, whole.size)
    assert np.max(np.abs(streamed[:n] - whole[:n])) < 1e-3  # per-block resampling would click


def test_file_source_keeps_real_time_pace_divided_by_speed(speech, tmp_path):
    path = write_audio(tmp_path / "one_second.wav", speech[:SAMPLE_RATE])
    started = time.perf_counter()
    list(FileSource(path, speed=4.0))
    paced = time.perf_counter() - started
    started = time.perf_counter()
    list(FileSource(path, speed=0))
    unpaced = time.perf_counter() - started
    # 1 s at 4x waits about 0.25 s; without pacing only the reading is left (relative, so a
    # busy machine slowing both does not fail it)
    assert paced >= 0.24 and paced - unpaced >= 0.15


def test_file_source_checks_its_input(tmp_path):
    from ser_cli.errors import AudioError

    with pytest.raises(AudioError, match="not found"):
        FileSource(tmp_path / "missing.wav")
    with pytest.raises(SerError, match="--speed"):
        FileSource(SPEECH_CLIP, speed=-1)


# --- smoothing and the processor ---------------------------------------------------------


def test_smoothing_math():
    a, b = np.array([1.0, 0.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(smooth(None, a, 0.3), a)
    np.testing.assert_allclose(smooth(a, b, 0.3), [0.7, 0.3, 0, 0])
    np.testing.assert_allclose(smooth(a, b, 1.0), b)
    halved = decay_to_flat(a, seconds=2.0, half_life=2.0)
    np.testing.assert_allclose(halved, 0.5 * a + 0.5 * 0.25)
    np.testing.assert_allclose(
        decay_to_flat(a, 1.0, 2.0), decay_to_flat(decay_to_flat(a, 0.5, 2.0), 0.5, 2.0), rtol=1e-6
    )
    assert halved.sum() == pytest.approx(1.0)


class ScriptedPredictor:
    """Predictor-shaped: speech wherever the audio is loud; probabilities from a script."""

    labels = ("neutral", "happy", "sad")
    voice_encoder = None

    def __init__(self, script: list[list[float]], speaker_stats: bool = False):
        self.script = [np.array(p, np.float32) for p in script]
        self.calls = 0
        self.stats_seen: list[Stats | None] = []
        self.global_stats = Stats(np.zeros(4, np.float32), np.ones(4, np.float32))
        self._speaker = speaker_stats
        self.vad = SimpleNamespace(speech_fraction=self._loud_chunks)

    @staticmethod
    def _loud_chunks(samples: np.ndarray) -> float:
        """Share of whole VAD chunks whose mean level is above 0.01, like Silero's fraction."""
        n = samples.size // CHUNK
        return (
            float((np.abs(samples[: n * CHUNK]).reshape(n, CHUNK).mean(1) > 0.01).mean())
            if n
            else 0.0
        )

    def uses_speaker_stats(self) -> bool:
        return self._speaker

    def features(self, samples):
        return np.ones((samples.size * 100 // SAMPLE_RATE, 4), np.float32)  # 100 frames a second

    def predict_batch(self, feats, stats=None):
        assert len(feats) == 1 and (stats is None or len(stats) == 1)  # one window per hop
        self.stats_seen.append(stats[0] if stats else None)
        probs = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        return probs[None, :]


def _hops(*loud: bool, hop: float = 0.5) -> list[np.ndarray]:
    n = int(hop * SAMPLE_RATE)
    return [np.full(n, 0.5 if x else 0.0, np.float32) for x in loud]


def test_processor_smooths_speech_and_decays_in_silence():
    script = [[1, 0, 0], [0, 1, 0], [0, 1, 0]]
    processor = StreamProcessor(
        ScriptedPredictor(script), ListenOptions(smoothing=0.5, silence_half_life=0.5)
    )
    updates = [u for block in _hops(True, True, True, False) for u in processor.push(block)]
    assert [u.time for u in updates] == [0.5, 1.0, 1.5, 2.0]
    np.testing.assert_allclose(updates[0].smoothed, [1, 0, 0])
    np.testing.assert_allclose(updates[1].smoothed, [0.5, 0.5, 0])
    np.testing.assert_allclose(updates[2].smoothed, [0.25, 0.75, 0])
    assert [u.label for u in updates] == [
        "neutral",
        "neutral",
        "happy",
        SILENCE,
    ]  # argmax of a tie: first
    silent = updates[3]
    assert not silent.is_speech and silent.probabilities is None
    np.testing.assert_allclose(silent.smoothed, 0.5 * updates[2].smoothed + 0.5 / 3, rtol=1e-6)
    np.testing.assert_allclose(updates[1].probabilities, [0, 1, 0])


def test_processor_accepts_any_block_size_and_flushes_the_tail():
    processor = StreamProcessor(ScriptedPredictor([[0, 0, 1]]))
    audio = np.full(int(1.3 * SAMPLE_RATE), 0.5, np.float32)
    updates = [u for block in np.array_split(audio, 37) for u in processor.push(block)]
    updates += processor.flush()
    assert [round(u.time, 3) for u in updates] == [
        0.5,
        1.0,
        1.3,
    ]  # the 0.3 s tail is over half a hop
    assert updates[-1].hop == pytest.approx(0.3)


def test_processor_adapts_to_the_speaker_with_new_frames_only():
    predictor = ScriptedPredictor([[1, 0, 0]], speaker_stats=True)
    processor = StreamProcessor(predictor, ListenOptions(window=2.0, hop=0.5))
    updates = [u for block in _hops(*[True] * 8) for u in processor.push(block)]
    assert processor.speaker.frames == 8 * 50  # 50 new frames a hop, although the window holds 200
    # RunningStats needs 300 frames before replacing the training statistics
    assert [u.adapted for u in updates] == [False] * 5 + [True] * 3
    assert (
        predictor.stats_seen[0] is predictor.global_stats
        and predictor.stats_seen[-1] is not predictor.global_stats
    )


def test_processor_without_speaker_stats_uses_the_global_ones():
    predictor = ScriptedPredictor([[1, 0, 0]], speaker_stats=False)
    processor = StreamProcessor(predictor)
    [processor.push(b) for b in _hops(True, True)]
    assert processor.speaker is None and predictor.stats_seen == [None, None]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"hop": 0}, "positive"),
        ({"hop": 3.0, "window": 2.0}, "must not exceed"),
        ({"hop": 0.05, "window": 0.05}, "--window must be at least"),  # as predict checks it
        ({"smoothing": 0}, "smoothing"),
        ({"smoothing": 1.5}, "smoothing"),
        ({"threads": -1}, "threads"),
    ],
)
def test_listen_options_are_checked(options, message):
    with pytest.raises(SerError, match=message):
        ListenOptions(**options)


# --- the real pipeline --------------------------------------------------------------------


def test_file_through_the_pipeline_marks_the_silence_gap(predictor, gap_recording):
    path, gap_start, gap_end = gap_recording
    updates = list(iter_updates(FileSource(path, speed=FAST), predictor))
    assert updates[-1].time == pytest.approx(gap_end + gap_start, abs=0.26)
    # The VAD looks at each hop (rounded up to whole 32 ms chunks) only.
    inside = [u for u in updates if u.time - u.hop - 0.05 >= gap_start and u.time <= gap_end]
    speaking = [u for u in updates if u.time <= gap_start or u.time - u.hop >= gap_end]
    assert len(inside) >= 4
    assert all(not u.is_speech and u.label == SILENCE and u.probabilities is None for u in inside)
    assert sum(u.is_speech for u in speaking) >= 0.7 * len(speaking)
    assert all(u.label in predictor.labels for u in speaking if u.is_speech)
    for u in updates:
        assert u.smoothed.shape == (len(predictor.labels),) and u.smoothed.sum() == pytest.approx(
            1.0, abs=1e-4
        )
        if u.is_speech:
            assert u.probabilities.sum() == pytest.approx(1.0, abs=1e-4)
    peaks = [float(u.smoothed.max()) for u in inside]
    assert peaks == sorted(peaks, reverse=True)  # silence flattens the bars
    assert max(u.rtf for u in updates) < 1.0  # keeps up with real time, even on a busy machine


def test_fake_microphone_through_the_pipeline(predictor, speech):
    signal = np.concatenate([speech, np.zeros(SAMPLE_RATE, np.float32)])
    fake = FakePyAudio([SPEAKERS, MIC], signal)
    source = PyAudioSource(block=0.1, pyaudio_module=fake)
    updates = iter_updates(source, predictor)
    first = list(islice(updates, 3))
    updates.close()  # the consumer stops early: the stream must still be closed
    assert [u.time for u in first] == [0.5, 1.0, 1.5]
    assert any(u.is_speech for u in first)
    assert fake.streams[0].closed and fake.terminated == 1


def test_ctrl_c_closes_the_stream_and_returns_a_summary(predictor, speech, tmp_path):
    fake = FakePyAudio(
        [SPEAKERS, MIC], speech
    )  # the fake stream raises KeyboardInterrupt at its end
    source = PyAudioSource(block=0.1, pyaudio_module=fake)
    seen = []
    summary = run_listen(source, predictor, on_update=seen.append, log=tmp_path / "log.csv")
    assert summary.interrupted and fake.streams[0].closed and fake.terminated == 1
    assert summary.hops == len(seen) == int(len(speech) / SAMPLE_RATE / 0.5)
    assert summary.speech_hops >= 1 and summary.label in predictor.labels
    assert summary.mean_probabilities is not None and 0 < summary.mean_rtf < 1


def test_ctrl_c_in_the_display_callback_is_clean(predictor, speech, tmp_path):
    path = write_audio(tmp_path / "speech.wav", speech)
    source = FileSource(path, speed=0)

    def stop(update):
        if update.time >= 1.0:
            raise KeyboardInterrupt

    summary = run_listen(source, predictor, on_update=stop)
    assert summary.interrupted and summary.hops == 2 and source._closed


def test_csv_log_has_a_row_per_update(predictor, gap_recording, tmp_path):
    path, _, _ = gap_recording
    log = tmp_path / "logs" / "listen.csv"
    seen = []
    summary = run_listen(FileSource(path, speed=FAST), predictor, on_update=seen.append, log=log)
    with log.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["time_s", "is_speech", "label", *predictor.labels]
    assert len(rows) == len(seen) == summary.hops
    for row, update in zip(rows, seen, strict=True):
        assert float(row["time_s"]) == pytest.approx(update.time, abs=1e-3)
        assert row["is_speech"] == str(int(update.is_speech)) and row["label"] == update.label
        if update.is_speech:
            assert sum(float(row[label]) for label in predictor.labels) == pytest.approx(
                1.0, abs=1e-3
            )
        else:  # nothing was classified: no probabilities
            assert all(row[label] == "" for label in predictor.labels)
    assert {row["label"] for row in rows} >= {SILENCE}


def test_unwritable_log_is_a_clear_error(predictor, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SerError, match="cannot write the log"):
        run_listen(FileSource(SPEECH_CLIP, speed=0), predictor, log=blocker / "log.csv")


def test_silent_hops_show_no_probabilities():
    from ser_cli.listen.stream import Update
    from ser_cli.render.listen import update_line

    labels = ("calm", "sad")
    common = dict(time=1.0, hop=0.5, speech_fraction=0.0, seconds=0.01, labels=labels)
    flat = np.array([0.5, 0.5], dtype=np.float32)
    quiet = Update(is_speech=False, probabilities=None, smoothed=flat, label=SILENCE, **common)
    assert update_line(quiet).split() == ["1.00", "s", SILENCE]
    loud = Update(is_speech=True, probabilities=flat, smoothed=flat, label="calm", **common)
    assert "calm 0.50" in update_line(loud) and "sad 0.50" in update_line(loud)


# --- the CLI --------------------------------------------------------------------------------


def test_cli_listen_to_a_file(run_dir, predictor, tmp_path):
    log = tmp_path / "out.csv"
    result = CliRunner().invoke(
        app,
        [
            "listen",
            "--file",
            str(SPEECH_CLIP),
            "--speed",
            "0",
            "--model",
            str(run_dir),
            "--log",
            str(log),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].split()[:2] == ["0.50", "s"]  # one plain line per update when not on a terminal
    assert any(label in result.stdout for label in predictor.labels)
    assert (
        "listened to 3.5 s" in lines[-1]  # 7 whole hops of 3.7 s
        and "mostly " in lines[-1]
        and "real-time factor" in lines[-1]
    )
    assert len(log.read_text().splitlines()) == len(lines)  # header + one row per update line


def test_cli_listen_options_reach_the_pipeline(run_dir):
    args = ["listen", "--file", str(SPEECH_CLIP), "--speed", "0", "--model", str(run_dir)]
    result = CliRunner().invoke(app, [*args, "--window", "1", "--hop", "0.25", "--smoothing", "1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split()[0] == "0.25"
    bad = CliRunner().invoke(app, [*args, "--hop", "3"])
    assert bad.exit_code != 0 and "must not exceed" in bad.output


def test_cli_help_shows_the_library_defaults():
    result = CliRunner().invoke(app, ["listen", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    defaults = ListenOptions()
    for option, value in (
        ("--window", defaults.window),
        ("--hop", defaults.hop),
        ("--smoothing", defaults.smoothing),
        ("--min-confidence", defaults.min_confidence),
    ):
        line = next(line for line in result.output.splitlines() if option in line)
        assert re.search(rf"\[default: \(?{value:g}\)?\]", line), (
            line
        )  # typer brackets text defaults


def test_cli_list_devices_without_pyaudio(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyaudio", None)
    result = CliRunner().invoke(app, ["listen", "--list-devices"])
    assert result.exit_code != 0
    assert "PyAudio is not installed" in result.output and "portaudio19-dev" in result.output


def test_cli_list_devices_with_a_fake_pyaudio(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyaudio", FakePyAudio([SPEAKERS, MIC]))
    result = CliRunner().invoke(app, ["listen", "--list-devices"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "Fake USB Mic" in result.output and "Fake Speakers" not in result.output


def test_cli_microphone_until_ctrl_c(monkeypatch, run_dir, speech):
    fake = FakePyAudio([SPEAKERS, MIC], speech)
    monkeypatch.setitem(sys.modules, "pyaudio", fake)
    result = CliRunner().invoke(app, ["listen", "--model", str(run_dir), "--device-index", "1"])
    assert result.exit_code == 0, result.output
    assert "stopped by Ctrl-C" in result.stdout and fake.streams[0].closed


def test_cli_microphone_without_input_device(monkeypatch, run_dir):
    monkeypatch.setitem(sys.modules, "pyaudio", FakePyAudio([SPEAKERS]))
    result = CliRunner().invoke(app, ["listen", "--model", str(run_dir)])
    assert result.exit_code != 0 and "--list-devices" in result.output


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_live_display_in_a_real_terminal(tmp_path, run_dir, predictor, speech):
    """The rich Live panel in a real (tmux) terminal: bars and labels, then Ctrl-C."""
    clip = write_audio(tmp_path / "long.wav", np.concatenate([speech] * 4))  # ~9 s at real time
    socket = str(tmp_path / "tmux.sock")
    command = shlex.join(
        [
            sys.executable,
            "-m",
            "ser_cli",
            "listen",
            "--file",
            str(clip),
            "--speed",
            "1",
            "--model",
            str(run_dir),
        ]
    )
    tmux = ["tmux", "-S", socket, "-f", "/dev/null"]

    def screen() -> str:
        return subprocess.run(
            [*tmux, "capture-pane", "-p", "-t", "ser"], capture_output=True, text=True
        ).stdout

    def wait_for(predicate, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        text = screen()
        while not predicate(text) and time.monotonic() < deadline:
            time.sleep(0.25)
            text = screen()
        return text

    subprocess.run(
        [
            *tmux,
            "new-session",
            "-d",
            "-s",
            "ser",
            "-x",
            str(TERM_COLS),
            "-y",
            str(TERM_ROWS),
            command + "; sleep 60",
        ],
        check=True,
    )
    try:
        subprocess.run([*tmux, "set-option", "-t", "ser", "remain-on-exit", "on"], check=True)
        text = wait_for(lambda t: "RTF" in t)
        time.sleep(2.0)  # a few hops in
        text = screen()
        assert "ser listen · file long.wav" in text, text
        assert all(label in text for label in predictor.labels), text
        assert "RTF" in text and "now:" in text and "━" in text, text
        subprocess.run([*tmux, "send-keys", "-t", "ser", "C-c"], check=True)
        text = wait_for(lambda t: "stopped by Ctrl-C" in t, timeout=20.0)
        assert "stopped by Ctrl-C" in text, text
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def test_install_hint_keeps_its_brackets_in_the_error_line(monkeypatch):
    """Rich would eat "[mic]" as markup; the hint must reach the user verbatim."""
    import builtins

    real_import = builtins.__import__

    def no_pyaudio(name, *args, **kwargs):
        if name == "pyaudio":
            raise ImportError("No module named 'pyaudio'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyaudio)
    result = CliRunner().invoke(app, ["listen", "--list-devices"])
    assert result.exit_code != 0
    assert "ser-cli[mic]" in result.output
