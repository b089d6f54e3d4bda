"""train.short_cut_prob: short cuts of a clip's speech, each beside its own voice embedding."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from synthetic_runs import quick_config, write_corpus

from ser_cli.audio.io import SAMPLE_RATE, write_audio
from ser_cli.audio.synthetic import synth_clip
from ser_cli.errors import ConfigError
from ser_cli.features.clips import ClipSet
from ser_cli.features.cuts import CUTS, SHORT_FRAMES, CutCache, clip_cuts, load_cuts
from ser_cli.features.extract import FeatureConfig, compute_features, speech_frames
from ser_cli.features.normalization import Stats
from ser_cli.features.voice import VOICE_DIMS, voice_embedding
from ser_cli.training.batchers import train_batch
from ser_cli.training.trainer import train_run

VOICED = FeatureConfig(voice=True)


def _padded_clip(seconds_of_silence: float = 0.4) -> np.ndarray:
    """A 3 s synthetic utterance between stretches of silence (which feature extraction trims)."""
    silence = np.zeros(int(seconds_of_silence * SAMPLE_RATE), np.float32)
    return np.concatenate([silence, synth_clip("happy", speaker=1, duration=3.0), silence])


def test_cuts_lie_in_the_speech_the_features_hold_and_embed_their_own_audio():
    samples = _padded_clip()
    frames = len(compute_features(samples, VOICED))
    span, total = speech_frames(samples, VOICED)  # the frames the features keep
    assert len(range(total)[span]) == frames and span.start > 0 and span.stop < total
    assert total == len(compute_features(samples, replace(VOICED, trim_silence=False)))
    cuts = clip_cuts(samples, VOICED, 200, np.random.default_rng(0))
    assert cuts.shape == (CUTS, 2 + VOICE_DIMS) and cuts.dtype == np.float32
    starts, lengths = cuts[:, 0].astype(int), cuts[:, 1].astype(int)
    assert np.all(lengths >= SHORT_FRAMES) and np.all(lengths <= 200)
    assert np.all(starts >= 0) and np.all(starts + lengths <= frames)
    assert len(set(starts)) > 1  # placed at random, not all at one spot
    # untrimmed, frame t starts at sample t * hop: each embedding is that of the samples of
    # the frames its row names, not the whole clip's
    untrimmed = replace(VOICED, trim_silence=False)
    whole = compute_features(samples, untrimmed)[0, -VOICE_DIMS:]
    cuts = clip_cuts(samples, untrimmed, 200, np.random.default_rng(1))
    hop = VOICED.hop_length
    for start, length, embedding in zip(
        cuts[:, 0].astype(int), cuts[:, 1].astype(int), cuts[:, 2:], strict=True
    ):
        audio = samples[start * hop : (start + length) * hop]
        np.testing.assert_allclose(embedding, voice_embedding(audio), atol=1e-3)
        assert not np.allclose(embedding, whole, atol=1e-2)


def test_a_clip_shorter_than_the_shortest_cut_is_cut_whole():
    samples = synth_clip("sad", speaker=0, duration=0.3)
    frames = len(compute_features(samples, VOICED))
    cuts = clip_cuts(samples, VOICED, 200, np.random.default_rng(0))
    assert frames < SHORT_FRAMES
    assert np.all(cuts[:, 0] == 0) and np.all(cuts[:, 1] == frames)


def test_cuts_are_cached_seeded_by_the_file_and_a_damaged_entry_is_recomputed(tmp_path):
    a = write_audio(tmp_path / "a.wav", _padded_clip())
    b = write_audio(tmp_path / "b.wav", _padded_clip())
    first = load_cuts([str(a), str(b)], VOICED, 200, cache_root=tmp_path / "cache")
    again = load_cuts([str(a), str(b)], VOICED, 200, cache_root=tmp_path / "cache")
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(
        first[0][:, :2], first[1][:, :2]
    )  # same audio, other file: other cuts
    cache = CutCache(tmp_path / "cache", VOICED, 200)
    entry = cache._path_for(a)
    assert entry.parent.name.startswith("cuts") and entry.is_file()
    entry.write_bytes(b"")
    np.testing.assert_array_equal(cache.get(a), first[0])
    # a cut of other crop lengths is another entry, not this one reused
    other = load_cuts([str(a)], VOICED, 100, cache_root=tmp_path / "cache")[0]
    assert other[:, 1].max() <= 100


def test_a_cut_example_is_the_cuts_frames_beside_its_own_embedding():
    rng = np.random.default_rng(0)
    mel, voice = rng.normal(size=(150, 40)), rng.normal(size=(1, 8))
    clip = np.concatenate([mel, np.repeat(voice, 150, 0)], 1).astype(np.float32)
    clips = ClipSet([clip] * 3, np.zeros(3, np.int64), ["s"] * 3, ["p"] * 3)
    cut_voice = rng.normal(size=8).astype(np.float32)
    cuts = [np.array([[30, 60, *cut_voice]], np.float32)] * 3
    identity = [Stats(np.zeros(48, np.float32), np.ones(48, np.float32))] * 3
    x, mask, _ = train_batch(
        clips, np.arange(3), identity, 100, None, rng, voice_dims=8, cuts=cuts, cut_prob=1.0
    )
    assert x.shape == (3, 100, 48) and np.all(mask.sum(1) == 60)
    np.testing.assert_allclose(x[0, :60, :40], mel[30:90], atol=1e-6)
    np.testing.assert_allclose(x[mask][:, 40:], np.repeat(cut_voice[None], 180, 0), atol=1e-6)
    # off, it draws nothing: the same batch as a batcher without cuts from the same seed
    plain = train_batch(clips, np.arange(3), identity, 100, None, np.random.default_rng(1), 8)
    off = train_batch(
        clips, np.arange(3), identity, 100, None, np.random.default_rng(1), 8, cuts=cuts
    )
    np.testing.assert_array_equal(plain[0], off[0])


def test_short_cuts_without_voice_features_are_refused_before_work(tmp_path):
    cfg = quick_config("enhanced")
    cfg = replace(cfg, train=replace(cfg.train, short_cut_prob=0.5))
    with pytest.raises(ConfigError, match="train.short_cut_prob .* features.voice=true"):
        train_run([{"path": "x.wav", "label": "sad", "split": "train"}], cfg, tmp_path / "r")
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_a_run_on_short_cuts_learns(tmp_path):
    rows = write_corpus(tmp_path / "audio", duration=2.0)
    cfg = quick_config("enhanced", epochs=12)
    cfg = replace(
        cfg,
        features=replace(cfg.features, voice=True),
        train=replace(cfg.train, short_cut_prob=0.5),
    )
    train_run(rows, cfg, tmp_path / "run", cache_root=tmp_path / "cache")
    from ser_cli.inference.evaluate import evaluate_rows
    from ser_cli.models.checkpoint import load_checkpoint

    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt.meta["train_config"]["short_cut_prob"] == 0.5
    assert any(p.name.startswith("cuts") for p in (tmp_path / "cache").iterdir())
    test = [r for r in rows if r["split"] == "test"]  # a speaker it never heard, 8 classes
    report = evaluate_rows(ckpt, test, adapt=False, cache_root=tmp_path / "cache")
    assert report["accuracy"] > 3 / 8, report["confusion"]
