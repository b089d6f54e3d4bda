"""Every training default in one place, saved with each run, overridable from YAML or key=value.

A run is described by :class:`RunConfig`: which model, its settings, the features it reads and
how it is trained. ``ser train --config run.yaml --set train.epochs=5`` layers a YAML file and
overrides on top of these defaults; the merged result is written to the run folder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import ClassVar

from ser_cli.errors import ConfigError, OverrideError
from ser_cli.features.extract import FeatureConfig
from ser_cli.features.normalization import NORMALIZATIONS
from ser_cli.validation import (
    at_least,
    between,
    check_fields,
    check_value,
    field_type,
    fraction,
    one_of,
    ordered_pair,
    positive,
)

DEVICES = ("auto", "cpu", "cuda", "mps")
CLASS_WEIGHTS = ("union", "corpus")  # train.class_weights
MIN_BATCH = 2  # batch norm needs at least two clips per batch to train
# Upper bounds: beyond them a value is a typo, and would exhaust memory or overflow a seed.
MAX_EPOCHS = 100_000
MAX_BATCH = 65_536
MAX_SEED = 2**32 - 1  # numpy's legacy seeding and torch.manual_seed both accept it
MAX_FRAMES = 360_000  # an hour of 10 ms frames
MAX_THREADS = 1024
MAX_BANDS = 512  # as many mel bands as features.n_mels allows
MAX_MASKS = 100


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentations, applied to cached log-mel frames so features never need recomputing."""

    gain_db: float = 6.0  # random gain in +-dB (an offset in the log-mel domain)
    noise_prob: float = 0.3  # chance of adding white noise to a clip
    snr_db: tuple[float, float] = (10.0, 35.0)  # noise signal-to-noise ratio range, dB
    speed_prob: float = 0.5  # chance of a speed change (frames resampled in time)
    speed_range: tuple[float, float] = (0.9, 1.1)  # speed factors
    freq_masks: int = 2  # SpecAugment frequency masks per clip
    freq_mask_width: int = 8  # widest frequency mask, in bands
    time_masks: int = 2  # SpecAugment time masks per clip
    time_mask_width: int = 20  # widest time mask, in frames (10 ms each)

    WHERE: ClassVar[str] = "train.augment"
    RULES: ClassVar[dict] = {
        "gain_db": at_least(0),
        "noise_prob": fraction,
        "snr_db": ordered_pair(),
        "speed_prob": fraction,
        "speed_range": ordered_pair(positive),
        "freq_masks": between(0, MAX_MASKS),
        "freq_mask_width": between(0, MAX_BANDS),
        "time_masks": between(0, MAX_MASKS),
        "time_mask_width": between(0, MAX_FRAMES),
    }

    def __post_init__(self) -> None:
        check_fields(self, self.WHERE)


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained; each default is the best measured CPU recipe."""

    epochs: int = 60  # full passes over the training split (about 3.5 min a CV fold on 2 cores)
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
    # With several corpora in the train split: each fills an equal share of every epoch
    # (small ones repeated, large ones subsampled), so the largest corpus does not decide what
    # the model learns. No effect on one corpus.
    corpus_balance: bool = True
    # Class weights of the loss (inverse label frequency, gradient-trained models): "corpus"
    # counts each clip's label within its own corpus, so every corpus's classes weigh alike
    # whatever the other corpora hold; "union" counts over every training clip, which
    # up-weights a label only one corpus has (RAVDESS's calm and surprised) on that corpus's
    # clips. The same thing for one corpus.
    class_weights: str = "union"
    # Distillation: a run or ensemble folder (same features, normalisation and labels) whose
    # probabilities on each training crop, augmented as the student sees it, are soft targets
    # (one network learning what an ensemble knows); "" = off. `distill` is their share of the
    # loss, the labels' cross-entropy the rest. Log-mel models only.
    teacher: str = ""
    distill: float = 0.5
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

    # Options added after runs were saved without them, with the value such a run trained with.
    ADDED_LATER: ClassVar[dict] = {
        "corpus_balance": True,
        "class_weights": "union",
        "teacher": "",
        "distill": 0.5,
    }
    WHERE: ClassVar[str] = "train"
    RULES: ClassVar[dict] = {
        "epochs": between(1, MAX_EPOCHS),
        "batch_size": between(MIN_BATCH, MAX_BATCH),
        "lr": positive,
        "weight_decay": at_least(0),
        "warmup_frac": fraction,
        "label_smoothing": fraction,
        "grad_clip": positive,
        "patience": between(0, MAX_EPOCHS),  # 0: never stop early
        "seed": between(0, MAX_SEED),
        "crop_frames": between(1, MAX_FRAMES),
        "max_eval_frames": between(1, MAX_FRAMES),
        "normalization": one_of(*NORMALIZATIONS),
        "class_weights": one_of(*CLASS_WEIGHTS),
        "global_norm_prob": fraction,
        "distill": fraction,
        "device": one_of(*DEVICES),
        "num_threads": between(0, MAX_THREADS),
        "encoder_lr": positive,
        "mask_time_prob": lambda v: None if 0 <= v < 1 else "must be in [0, 1)",
    }

    def __post_init__(self) -> None:
        check_fields(self, self.WHERE)


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs to be reproduced."""

    model: str = "enhanced"  # a name from `ser models`
    model_options: dict = field(default_factory=dict)  # overrides of the model's own config
    features: FeatureConfig = field(default_factory=FeatureConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    WHERE: ClassVar[str] = ""

    def __post_init__(self) -> None:
        check_fields(self, self.WHERE)

    def to_dict(self) -> dict:
        return asdict(self)


# Settings that were measured and not kept, removed with their code (their figures stay in
# the docs). A config written before still loads where it left them at the value that switched
# them off, or where they were inert (None: the parameters of an option that was off); any
# other value is refused, since this ser cannot train what it asks for.
REMOVED: dict[type, dict[str, object]] = {
    TrainConfig: {"mixup": 0.0, "swa": 0.0, "short_crop_prob": 0.0, "short_cut_prob": 0.0},
    AugmentConfig: {
        "pitch_prob": 0.0,
        "pitch_bands": None,
        "reverb_prob": 0.0,
        "rt60": None,
        "drr_db": None,
        "tilt_db": 0.0,
        "band_limit_prob": 0.0,
        "band_keep": None,
    },
}

# The section each nested mapping is built as.
SECTIONS: dict[type, dict[str, type]] = {
    RunConfig: {"features": FeatureConfig, "train": TrainConfig},
    TrainConfig: {"augment": AugmentConfig},
}


def _build(cls, data, where: str):
    """Instantiate a (nested) config dataclass from a plain dict, rejecting unknown keys.

    Each value is type- and range-checked by the dataclass itself (see ser_cli.validation).
    """
    if not isinstance(data, dict):
        raise ConfigError(
            f"{where or 'config'}: expected a mapping (key: value lines), got {_kind(data)}."
        )
    data = without_removed(data, REMOVED.get(cls, {}), where, ConfigError)
    known = {f.name for f in fields(cls)}
    unknown = sorted(str(k) for k in set(data) - known)
    if unknown:
        raise ConfigError(
            f"unknown setting(s) {', '.join(where + '.' + k if where else k for k in unknown)}; "
            f"{where or 'the config'} has: {', '.join(sorted(known))}."
        )
    kwargs = {}
    for name, value in data.items():
        sub_cls = SECTIONS.get(cls, {}).get(name)
        kwargs[name] = _build(sub_cls, value, f"{where}.{name}".strip(".")) if sub_cls else value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where or 'config'}: {exc}") from None


def without_removed(data: dict, removed: dict, where: str, error: type[Exception]) -> dict:
    """``data`` without the removed settings it may carry at their off value; ``error`` in one
    line for one set to anything else."""
    for key, off in removed.items():
        if key in data and off is not None and data[key] != off:
            name = f"{where}.{key}".strip(".")
            raise error(
                f"{name}={data[key]!r}: this setting was measured, not kept and removed from "
                f"ser; delete it (or set it to {off!r}) to train with this version."
            )
    return {k: v for k, v in data.items() if k not in removed}


def _kind(value) -> str:
    if value is None:
        return "nothing (null)"
    return {list: "a list", str: "text", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def run_config_from_dict(data: dict) -> RunConfig:
    return _build(RunConfig, data, "")


def parse_override(text: str) -> tuple[list[str], object]:
    """'train.epochs=5' -> (['train', 'epochs'], 5); values are parsed as YAML scalars.

    The key must name a setting and the value must fit its type (coerced where unambiguous:
    'train.lr=1e-3' gives 0.001); otherwise OverrideError, a usage error.
    """
    import yaml

    if "=" not in text:
        raise OverrideError(
            f"--set '{text}' must look like section.key=value (e.g. train.epochs=5)."
        )
    key, raw = text.split("=", 1)
    keys = [k.strip() for k in key.strip().split(".")]
    try:
        value = load_yaml(raw, f"--set {key.strip()}", OverrideError)
    except yaml.YAMLError:
        value = raw  # a value YAML cannot read is taken as text and type-checked below
    return keys, _check_override(keys, value)


def _check_override(keys: list[str], value):
    """Walk the config classes along ``keys``; check ``value`` against the last field's type."""
    cls, where = RunConfig, ""
    for i, name in enumerate(keys):
        where = f"{where}.{name}".strip(".")
        if cls is None:  # inside model_options: the model's own config checks it later
            return value
        annotation = field_type(cls, name)
        if annotation is None and name in REMOVED.get(cls, {}):
            without_removed({name: value}, REMOVED[cls], where.rpartition(".")[0], OverrideError)
            return value  # its off value: dropped when the config is built
        if annotation is None:
            known = ", ".join(f.name for f in fields(cls))
            raise OverrideError(f"--set {where}: unknown setting; choose one of: {known}.")
        last = i == len(keys) - 1
        sub_cls = SECTIONS.get(cls, {}).get(name)
        if last:
            if sub_cls is not None and not isinstance(value, dict):
                raise OverrideError(
                    f"--set {where}: is a section; set one of its keys, e.g. {where}."
                    f"{fields(sub_cls)[0].name}=..."
                )
            if sub_cls is None:
                return check_value(cls, name, value, f"--set {where}", OverrideError)
            return value
        if sub_cls is None and name != "model_options":
            raise OverrideError(f"--set {where}: is a single value, not a section.")
        cls = sub_cls
    return value


def load_run_config(
    path: str | Path | None = None,
    overrides: list[str] = (),
    model: str | None = None,
    base: dict | None = None,
) -> RunConfig:
    """Defaults (or ``base``, a saved run's config), then the YAML file, then ``--model``,
    then key=value overrides. Every value is type- and range-checked here, before any work."""
    data = read_config_file(path) if path is not None else {}
    merged = RunConfig().to_dict()
    if base is not None:
        _deep_update(merged, base)
    _deep_update(merged, data)
    if model is not None:
        merged["model"] = model
    for text in overrides:
        keys, value = parse_override(text)
        node = merged
        for depth, k in enumerate(keys[:-1], start=1):
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                where = ".".join(keys[:depth])
                raise ConfigError(
                    f"{where}: expected a mapping (key: value lines), got {_kind(node)}."
                )
        node[keys[-1]] = value
    return run_config_from_dict(merged)


def read_config_file(path: str | Path) -> dict:
    """A YAML run config as a mapping; ConfigError for anything unreadable or not a mapping."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found.")
    if not path.is_file():
        raise ConfigError(f"{path}: not a regular file; give a YAML run config.")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save the config as UTF-8 YAML.") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config ({exc.strerror or exc}).") from None
    try:
        data = load_yaml(text, str(path))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]}).") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of settings (model:, train:, ...), got {_kind(data)}."
        )
    return data


MAX_YAML_VALUES = 10_000  # values a config may hold once its aliases (&a, *a) are expanded


def load_yaml(text: str, where: str, error=ConfigError):
    """``yaml.safe_load``, refusing a document whose aliases expand past MAX_YAML_VALUES
    values (a "billion laughs" bomb) or refer to themselves, before anything walks it."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise error(f"{where}: nested too deeply to be a config.") from None
    try:
        size = _expanded_size(data, {}, set())
    except (RecursionError, ValueError):
        raise error(
            f"{where}: its YAML aliases refer to themselves; write the values out."
        ) from None
    if size > MAX_YAML_VALUES:
        raise error(
            f"{where}: its YAML aliases (&name, *name) expand to more than {MAX_YAML_VALUES:,} "
            "values; a config is far smaller."
        )
    return data


def _expanded_size(value, sizes: dict, open_: set) -> int:
    """How many values ``value`` holds with every shared (aliased) part counted each time it
    appears; linear in the distinct parts, however far they expand."""
    if not isinstance(value, (dict, list)):
        return 1
    key = id(value)
    if key in sizes:
        return sizes[key]
    if key in open_:
        raise ValueError("refers to itself")
    open_.add(key)
    items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
    size = 1 + sum(_expanded_size(v, sizes, open_) for v in items)
    open_.discard(key)
    sizes[key] = size
    return size


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
