"""The trainer's parts on their own: augmentation, the learning-rate schedule, config overrides."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ser_cli.config import AugmentConfig, load_run_config, parse_override
from ser_cli.errors import ConfigError
from ser_cli.training.augment import (
    BAND_STOP_DB,
    DB_TO_LOG,
    add_noise,
    add_reverb,
    augment_logmel,
    band_limit,
    change_speed,
    mixup,
    shift_bands,
    spec_augment,
)
from ser_cli.training.trainer import lr_at

NONE = AugmentConfig(
    gain_db=0.0, noise_prob=0.0, speed_prob=0.0, pitch_prob=0.0, freq_masks=0, time_masks=0
)


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


def test_band_shift_moves_energy_along_the_mel_axis():
    x = np.tile(np.arange(8, dtype=np.float32), (3, 1))
    np.testing.assert_array_equal(shift_bands(x, 2)[0], [0, 0, 0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(shift_bands(x, -2)[0], [2, 3, 4, 5, 6, 7, 7, 7])
    assert shift_bands(x, 0) is x


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


def test_reverb_adds_a_decaying_tail_after_the_sound_and_nothing_before():
    x = np.full((100, 4), -20.0, dtype=np.float32)  # near silence
    x[30] = 0.0  # one loud frame
    short, long = add_reverb(x, 0.2, 0.0), add_reverb(x, 1.0, 0.0)
    # before the loud frame only the floor's own tail (at most equal energy at 0 dB: +ln 2)
    assert (short[:30] - x[:30] <= np.log(2.0) + 1e-5).all()
    assert abs(short[30, 0]) < 1e-3  # the direct sound is kept
    tail = short[31:45, 0]
    assert (np.diff(tail) < 0).all() and tail[0] > -5.0  # a tail that decays
    assert long[60, 0] > short[60, 0]  # a longer reverberation time rings longer
    wet = add_reverb(x, 0.5, 0.0)[31:, 0]
    dry = add_reverb(x, 0.5, 12.0)[31:, 0]
    assert (dry <= wet).all()  # a higher direct-to-reverberant ratio: a quieter tail


def test_tilt_is_a_linear_ramp_across_the_bands_within_its_range():
    x = _logmel(20, 16)
    for seed in range(5):
        ramp = augment_logmel(x, replace(NONE, tilt_db=6.0), np.random.default_rng(seed)) - x
        assert np.ptp(ramp, axis=0).max() < 1e-5  # the same in every frame
        steps = np.diff(ramp[0])
        np.testing.assert_allclose(steps, steps[0], atol=1e-5)  # linear in the band index
        assert abs(ramp[0, -1]) <= 6.0 * DB_TO_LOG + 1e-5 and abs(ramp[0, -1] + ramp[0, 0]) < 1e-5


def test_band_limiting_drops_only_the_outer_bands():
    x = _logmel(10, 20)
    y = band_limit(x, 0.1, 0.75)
    drop = -BAND_STOP_DB * DB_TO_LOG
    np.testing.assert_allclose(y[:, :2], x[:, :2] + drop, rtol=1e-6)
    np.testing.assert_allclose(y[:, 15:], x[:, 15:] + drop, rtol=1e-6)
    np.testing.assert_array_equal(y[:, 2:15], x[:, 2:15])


def test_mixup_mixes_clips_and_targets_alike_keeping_each_clip_dominant():
    rng = np.random.default_rng(0)
    x = np.stack([np.full((6, 3), float(i)) for i in range(8)]).astype(np.float32)
    mask = np.ones((8, 6), dtype=bool)
    mask[0, 3:] = False
    y = np.arange(8)
    mixed, union, targets = mixup(x, mask, y, 8, 0.4, rng)
    np.testing.assert_allclose(targets.sum(1), 1.0, rtol=1e-6)
    own = targets[np.arange(8), y]
    assert (own >= 0.5 - 1e-6).all() and (own < 1).any()
    # each clip's value is the same convex mix of the two clips as its target
    partner = targets.argsort(1)[:, -2]
    lam = own
    expected = lam * y + (1 - lam) * np.where(lam < 1, partner, y)
    np.testing.assert_allclose(mixed[:, 0, 0], expected, rtol=1e-5)
    assert union[0].all() or not mask[0].all()  # padding kept only where both clips are padded


def test_room_and_channel_settings_are_validated():
    with pytest.raises(ConfigError, match="band_keep"):
        load_run_config(None, ["train.augment.band_keep=[0.5, 1.5]"])
    with pytest.raises(ConfigError, match="rt60"):
        load_run_config(None, ["train.augment.rt60=[0.8, 0.2]"])
    with pytest.raises(ConfigError, match="mixup"):
        load_run_config(None, ["train.mixup=-1"])


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
