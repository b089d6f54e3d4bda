"""The trainer's parts on their own: augmentation, the learning-rate schedule, config overrides."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ser_cli.config import AugmentConfig, load_run_config, parse_override
from ser_cli.errors import ConfigError
from ser_cli.training.augment import (
    DB_TO_LOG,
    add_noise,
    augment_logmel,
    change_speed,
    spec_augment,
)
from ser_cli.training.trainer import lr_at

NONE = AugmentConfig(gain_db=0.0, noise_prob=0.0, speed_prob=0.0, freq_masks=0, time_masks=0)


def _logmel(frames: int = 100, bands: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(-5.0, 2.0, (frames, bands)).astype(np.float32)


# --- augmentation ---------------------------------------------------------------------------


def test_no_augmentation_returns_an_equal_copy():
    x = _logmel()
    y = augment_logmel(x, NONE, np.random.default_rng(0))
    np.testing.assert_array_equal(x, y)
    assert y is not x


def test_gain_is_a_bounded_offset_in_the_log_domain():
    x = _logmel()
    for seed in range(5):
        y = augment_logmel(x, replace(NONE, gain_db=6.0), np.random.default_rng(seed))
        offset = y - x
        assert np.ptp(offset) < 1e-5  # the same offset everywhere
        assert abs(offset[0, 0]) <= 6.0 * DB_TO_LOG + 1e-6


def test_speed_change_resamples_time_and_keeps_the_ends():
    x = _logmel(100)
    fast, slow = change_speed(x, 1.25), change_speed(x, 0.8)
    assert fast.shape == (80, 16) and slow.shape == (125, 16)
    np.testing.assert_allclose(fast[0], x[0])
    np.testing.assert_allclose(fast[-1], x[-1])
    np.testing.assert_allclose(change_speed(x, 1.0), x)


def test_noise_only_adds_power_and_less_at_higher_snr():
    x = _logmel()
    loud = add_noise(x, 5.0, np.random.default_rng(0)) - x
    quiet = add_noise(x, 30.0, np.random.default_rng(0)) - x
    assert (loud > 0).all() and (quiet > 0).all()
    assert quiet.mean() < loud.mean()


def test_spec_augment_masks_stay_within_their_widths():
    x = _logmel(200, 32)
    cfg = replace(NONE, freq_masks=1, freq_mask_width=5, time_masks=1, time_mask_width=10)
    for seed in range(10):
        y = spec_augment(x.copy(), cfg, np.random.default_rng(seed))
        fill = float(x.mean())
        masked_bands = np.all(y == fill, axis=0).sum()
        masked_frames = np.all(y == fill, axis=1).sum()
        assert masked_bands <= 5 and masked_frames <= 10
        changed = y != x
        assert changed.sum() <= 5 * 200 + 10 * 32


def test_augmentation_is_reproducible_from_the_seed():
    x, cfg = _logmel(), AugmentConfig(noise_prob=1.0, speed_prob=1.0)
    a = augment_logmel(x, cfg, np.random.default_rng(3))
    b = augment_logmel(x, cfg, np.random.default_rng(3))
    c = augment_logmel(x, cfg, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)


def test_settings_removed_after_measuring_load_when_off_and_are_refused_when_on(tmp_path):
    """mixup, SWA, band shifts, rooms, tilt, band-limiting, freq_pool and mixstyle were measured
    and not kept: a config written before (the previous bundled model's, kept in tests/data)
    loads where they were off, and a config or --set that turns one on is refused in one line,
    naming it."""
    from ser_cli.config import RunConfig, read_config_file
    from ser_cli.errors import ModelError, OverrideError
    from ser_cli.models import model_config

    bundled = Path(__file__).parent / "data" / "config-with-removed-settings.yaml"
    assert "mixup" in read_config_file(bundled)["train"]  # written before the removal
    assert load_run_config(bundled).train == RunConfig().train
    off = [
        "train.mixup=0",
        "train.swa=0",
        "train.augment.pitch_bands=3",
        "train.augment.rt60=[1, 2]",
    ]
    assert load_run_config(None, off) == RunConfig()
    for on in ("train.mixup=0.4", "train.swa=0.5", "train.augment.reverb_prob=0.3",
               "train.augment.pitch_prob=0.5", "train.augment.tilt_db=6",
               "train.augment.band_limit_prob=0.3"):  # fmt: skip
        with pytest.raises(OverrideError, match=f"{on}: this setting was measured, not kept"):
            load_run_config(None, [on])
    config = tmp_path / "old.yaml"
    config.write_text("train:\n  mixup: 0.4\n")
    with pytest.raises(ConfigError, match="train.mixup=0.4: this setting was measured"):
        load_run_config(config)
    assert model_config("enhanced", {"freq_pool": "mean"}) == model_config("enhanced")
    with pytest.raises(ModelError, match="freq_pool='flatten' was measured, not kept"):
        model_config("enhanced", {"freq_pool": "flatten"})
    assert model_config("enhanced", {"mixstyle": 0.0}) == model_config("enhanced")
    with pytest.raises(ModelError, match="mixstyle=0.5 was measured, not kept"):
        model_config("enhanced", {"mixstyle": 0.5})


# --- learning-rate schedule -----------------------------------------------------------------


def test_lr_warms_up_linearly_then_decays_by_cosine_to_one_percent():
    total, peak = 100, 1e-3
    lrs = [lr_at(step, total, peak, warmup_frac=0.1) for step in range(total)]
    np.testing.assert_allclose(lrs[:10], peak * np.arange(1, 11) / 10)
    assert max(lrs) == pytest.approx(peak)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:], strict=False))  # monotone decay
    assert lrs[-1] == pytest.approx(peak * (0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi * 89 / 90))))
    assert lr_at(total, total, peak, 0.1) == pytest.approx(0.01 * peak)  # the floor
    assert lr_at(10 + 45, total, peak, 0.1) == pytest.approx(peak * (0.01 + 0.99 * 0.5))


def test_lr_without_warmup_steps_still_starts_at_the_peak():
    assert lr_at(0, 10, 0.5, warmup_frac=0.0) == pytest.approx(0.5)


# --- config overrides -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, keys, value",
    [
        ("train.epochs=5", ["train", "epochs"], 5),
        ("train.lr=1e-3", ["train", "lr"], 1e-3),  # a float, though YAML 1.1 reads a string
        ("train.lr=3.0e-4", ["train", "lr"], 3e-4),
        ("train.augment.speed_range=[0.8, 1.2]", ["train", "augment", "speed_range"], (0.8, 1.2)),
        ("features.trim_silence=false", ["features", "trim_silence"], False),
        ("model=ultimate", ["model"], "ultimate"),
        ("model_options.name=a=b", ["model_options", "name"], "a=b"),  # only the first '=' splits
    ],
)
def test_overrides_parse_yaml_scalars(text, keys, value):
    assert parse_override(text) == (keys, value)


def test_overrides_apply_after_the_file_and_the_model_option(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("model: base\ntrain:\n  epochs: 7\n  lr: 0.01\n")
    cfg = load_run_config(config, ["train.epochs=3", "train.augment.gain_db=2"], model="enhanced")
    assert cfg.model == "enhanced" and cfg.train.epochs == 3 and cfg.train.lr == 0.01
    assert cfg.train.augment.gain_db == 2 and cfg.train.augment.noise_prob == 0.3  # rest kept


@pytest.mark.parametrize("text", ["train.epochs", "nosuch.key=1", "train.nope=1"])
def test_bad_overrides_are_config_errors(text):
    with pytest.raises(ConfigError):
        load_run_config(None, [text])
