"""Feature extraction (log-mel, MFCC) and the on-disk feature cache."""

from __future__ import annotations

import os

import numpy as np
import pytest

from ser_cli.audio.io import SAMPLE_RATE, load_audio, write_audio
from ser_cli.audio.synthetic import synth_clip
from ser_cli.features.extract import FeatureCache, FeatureConfig, compute_features, speech_frames


@pytest.fixture
def clip() -> np.ndarray:
    return synth_clip("happy", 1, duration=1.0, seed=0)


def test_mfcc_has_its_own_dims_and_the_log_mel_frames(clip):
    logmel = compute_features(clip, FeatureConfig(kind="logmel", trim_silence=False))
    mfcc = compute_features(clip, FeatureConfig(kind="mfcc", n_mfcc=20, trim_silence=False))
    assert mfcc.shape == (logmel.shape[0], 20) and mfcc.dtype == np.float32
    assert logmel.shape[0] == len(clip) // 160 + 1  # a frame every 10 ms, centred
    assert FeatureConfig(kind="mfcc", n_mfcc=20).dims == 20
    assert np.isfinite(mfcc).all()


def test_mfcc_is_the_dct_of_the_log_mel_spectrum(clip):
    from scipy.fft import dct

    cfg = FeatureConfig(kind="mfcc", n_mfcc=13, trim_silence=False)
    mel = compute_features(clip, FeatureConfig(kind="logmel", trim_silence=False))
    mfcc = compute_features(clip, cfg)
    # torchaudio's MFCC(log_mels=True): log(mel + 1e-6), orthonormal DCT-II, first n_mfcc
    expected = dct(mel, type=2, norm="ortho", axis=1)[:, :13]
    np.testing.assert_allclose(mfcc, expected, atol=1e-3)


def test_mfcc_trims_the_same_silence_as_log_mel(clip):
    padded = np.concatenate([np.zeros(SAMPLE_RATE // 2, np.float32), clip])
    mel = compute_features(padded, FeatureConfig(kind="logmel"))
    mfcc = compute_features(padded, FeatureConfig(kind="mfcc"))
    assert mel.shape[0] == mfcc.shape[0] < len(padded) // 160


def test_speech_frames_names_the_frames_the_features_keep(clip):
    silence = np.zeros(int(0.4 * SAMPLE_RATE), np.float32)
    padded = np.concatenate([silence, clip, silence])
    cfg = FeatureConfig(kind="logmel")
    span, total = speech_frames(padded, cfg)
    kept = compute_features(padded, cfg)
    untrimmed = compute_features(padded, FeatureConfig(kind="logmel", trim_silence=False))
    assert total == len(untrimmed) and 0 < span.start < span.stop < total
    np.testing.assert_allclose(kept, untrimmed[span], atol=1e-5)
    whole, total = speech_frames(padded, FeatureConfig(kind="logmel", trim_silence=False))
    assert len(range(total)[whole]) == total


def test_the_cache_serves_stored_features_and_recomputes_when_the_file_changes(tmp_path, clip):
    path = write_audio(tmp_path / "a.wav", clip)
    cache = FeatureCache(tmp_path / "cache", FeatureConfig())
    first = cache.get(path)
    [stored] = list(cache.folder.glob("*.npy"))
    np.save(stored, np.full_like(first, 7.0), allow_pickle=False)  # mark the cached entry
    assert (cache.get(path) == 7.0).all()  # served from disk, not recomputed
    other = synth_clip("sad", 2, duration=1.5, seed=1)
    write_audio(path, other)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    fresh = cache.get(path)
    np.testing.assert_allclose(fresh, compute_features(load_audio(path), FeatureConfig()))
    assert len(list(cache.folder.glob("*.npy"))) == 2  # a new key; the stale entry is unused


def test_the_cache_keys_on_feature_settings_and_repairs_damaged_entries(tmp_path, clip):
    path = write_audio(tmp_path / "a.wav", clip)
    a = FeatureCache(tmp_path / "cache", FeatureConfig(n_mels=64))
    b = FeatureCache(tmp_path / "cache", FeatureConfig(n_mels=40))
    assert a.folder != b.folder
    assert a.get(path).shape[1] == 64 and b.get(path).shape[1] == 40
    [stored] = list(a.folder.glob("*.npy"))
    stored.write_bytes(b"damaged")
    expected = compute_features(load_audio(path), FeatureConfig(n_mels=64))
    np.testing.assert_allclose(a.get(path), expected)
