"""Every training default in one place, saved with each run, overridable from YAML or key=value.

A run is described by :class:`RunConfig`: which model, its settings, the features it reads and
how it is trained. ``ser train --config run.yaml --set train.epochs=5`` layers a YAML file and
overrides on top of these defaults; the merged result is written to the run folder.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ser_cli.errors import ConfigError
from ser_cli.features.extract import FeatureConfig

NORMALIZATIONS = ("speaker", "global")


_YAML11_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")  # 1e-3, 5E4, 2.e-5


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentations, applied to cached log-mel frames so features never need recomputing."""

    gain_db: float = 6.0  # random gain in +-dB (an offset in the log-mel domain)
    noise_prob: float = 0.3  # chance of adding white noise to a clip
    snr_db: tuple[float, float] = (10.0, 35.0)  # noise signal-to-noise ratio range, dB
    speed_prob: float = 0.5  # chance of a speed change (frames resampled in time)
    speed_range: tuple[float, float] = (0.9, 1.1)  # speed factors
    pitch_prob: float = (
        0.0  # chance of a pitch shift (mel axis shifted); off: pitch carries emotion
    )
    pitch_bands: int = 2  # largest shift in mel bands (~ a semitone or two at 64 bands)
    freq_masks: int = 2  # SpecAugment frequency masks per clip
    freq_mask_width: int = 8  # widest frequency mask, in bands
    time_masks: int = 2  # SpecAugment time masks per clip
    time_mask_width: int = 20  # widest time mask, in frames (10 ms each)


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained; each default is the best measured CPU recipe."""

    epochs: int = 40  # full passes over the training split (about 7 min a CV fold on 2 cores)
    batch_size: int = 32
    lr: float = 3e-3  # peak learning rate of the one-cycle schedule
    weight_decay: float = 1e-2  # AdamW decoupled weight decay
    warmup_frac: float = 0.1  # fraction of steps spent warming up to the peak rate
    label_smoothing: float = 0.05  # softens targets: acted emotions overlap (calm vs neutral)
    grad_clip: float = 5.0  # max gradient norm; transformers spike early without it
    # Epochs without a better validation UAR before stopping early; 0 = never stop early. Off by
    # default: stopping cuts the one-cycle schedule short while its learning rate is still high,
    # and a 2-actor validation split is too noisy to judge by (issue 10: runs stopped at epoch
    # 26 of 40 scored 12 points below one that ran the full schedule). `best` is still the best
    # validation epoch; the schedule just always finishes.
    patience: int = 0
    seed: int = 0
    crop_frames: int = 200  # training crop (2 s at 10 ms): random crops double as time shifts
    max_eval_frames: int = 800  # longest evaluation input (8 s); longer clips are centre-cut
    normalization: str = "speaker"  # "speaker": each speaker's own unlabelled statistics; "global"
    global_norm_prob: float = 0.1  # train share normalised globally, for when no speaker is known
    device: str = "auto"  # auto | cpu | cuda | mps
    amp: bool = True  # mixed precision, used on CUDA only
    num_threads: int = 0  # CPU threads for torch; 0 leaves torch's default
    # Fine-tuning a speech encoder (model ssl with model_options.finetune top-N or all); there
    # crop_frames and max_eval_frames count 20 ms waveform frames (200 frames = 4 s):
    encoder_lr: float = 5e-5  # peak rate of the encoder's weights: pretrained, so they move gently
    gradient_checkpointing: bool = False  # recompute encoder activations in backward: less memory
    mask_time_prob: float = 0.05  # share of encoder frames masked while training (its SpecAugment)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        if self.normalization not in NORMALIZATIONS:
            raise ConfigError(f"train.normalization must be one of {', '.join(NORMALIZATIONS)}.")
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("train.epochs and train.batch_size must be at least 1.")
        if self.patience < 0:
            raise ConfigError("train.patience must be 0 (never stop early) or a number of epochs.")
        if not 0.0 <= self.mask_time_prob < 1.0:
            raise ConfigError("train.mask_time_prob must be in [0, 1).")


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs to be reproduced."""

    model: str = "enhanced"  # a name from `ser models`
    model_options: dict = field(default_factory=dict)  # overrides of the model's own config
    features: FeatureConfig = field(default_factory=FeatureConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return asdict(self)


def _build(cls, data: dict, where: str):
    """Instantiate a (nested) config dataclass from a plain dict, rejecting unknown keys."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}.")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown setting(s) {', '.join(where + '.' + k if where else k for k in unknown)}."
        )
    kwargs = {}
    for name, value in data.items():
        default = getattr(cls(), name) if name != "features" else None
        if dataclasses.is_dataclass(default) or name in ("features", "augment", "train"):
            sub_cls = {"features": FeatureConfig, "augment": AugmentConfig, "train": TrainConfig}[
                name
            ]
            kwargs[name] = _build(sub_cls, value, f"{where}.{name}".strip("."))
        elif isinstance(default, tuple) and isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where or 'config'}: {exc}") from None


def run_config_from_dict(data: dict) -> RunConfig:
    return _build(RunConfig, data, "")


def parse_override(text: str) -> tuple[list[str], object]:
    """'train.epochs=5' -> (['train', 'epochs'], 5); values are parsed as YAML scalars."""
    import yaml

    if "=" not in text:
        raise ConfigError(
            f"override '{text}' must look like section.key=value (e.g. train.epochs=5)."
        )
    key, raw = text.split("=", 1)
    value = yaml.safe_load(raw)
    if isinstance(value, str) and _YAML11_FLOAT.fullmatch(value.strip()):
        value = float(value)  # YAML 1.1 reads 1e-3 (no dot) as a string; --help suggests it
    return key.strip().split("."), value


def load_run_config(
    path: str | Path | None = None, overrides: list[str] = (), model: str | None = None
) -> RunConfig:
    """Defaults, then the YAML file, then ``--model``, then key=value overrides."""
    import yaml

    data: dict = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"{path}: config file not found.")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]}).") from None
    merged = RunConfig().to_dict()
    _deep_update(merged, data)
    if model is not None:
        merged["model"] = model
    for text in overrides:
        keys, value = parse_override(text)
        node = merged
        for k in keys[:-1]:
            if k not in node or not isinstance(node[k], dict):
                raise ConfigError(f"override '{text}': unknown section '{k}'.")
            node = node[k]
        node[keys[-1]] = value
    return run_config_from_dict(merged)


def _deep_update(base: dict, new: dict) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and key != "model_options":
            _deep_update(base[key], value)
        else:
            base[key] = value


def save_run_config(cfg: RunConfig, path: str | Path) -> Path:
    import yaml

    from ser_cli.atomic import write_text

    return write_text(path, yaml.safe_dump(_plain(cfg.to_dict()), sort_keys=False))


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value
