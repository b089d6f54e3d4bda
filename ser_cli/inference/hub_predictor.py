"""Audio-classification checkpoints from the Hugging Face hub (or saved locally) as predictors.

Many speech-emotion classifiers are published as ``Wav2Vec2ForSequenceClassification`` (or
HuBERT / WavLM / data2vec-audio) checkpoints. :class:`HubPredictor` wraps one behind the same
interface as a `ser train` run, so ``--model`` in predict, listen and eval takes a hub id
(``owner/name``, downloaded once into the transformers cache) or a local folder written by
``save_pretrained``. Its ``id2label`` is mapped onto the canonical emotions; names that match
none keep their own spelling and are listed in :attr:`HubPredictor.warnings`.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path

import numpy as np

from ser_cli.audio.io import SAMPLE_RATE
from ser_cli.errors import ModelError, short_reason
from ser_cli.features.normalization import Stats
from ser_cli.inference.batch import BATCH_SIZE
from ser_cli.inference.predictor import set_torch_threads
from ser_cli.labels import map_model_labels

CLASSIFIER_SUFFIX = "ForSequenceClassification"  # transformers' audio-classification heads
MAX_SECONDS = 10.0  # longest audio classified at once (centre cut): attention is quadratic
# `ser predict`'s default window for these models: files up to this long are classified whole,
# longer ones in windows of it (8 s, as for ser's own models; shorter than MAX_SECONDS).
WINDOW_SECONDS = 8.0
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # owner/name, as the hub spells ids
HUB_TIMEOUT = 10.0  # seconds to wait for the hub to say whether a model exists


def is_hub_classifier(name_or_path) -> bool:
    """True for a local transformers classifier folder, or a string shaped like a hub id
    (``owner/name``) that names no local path (its owner is not a local folder either)."""
    if name_or_path is None:
        return False
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.is_dir():
        return _folder_architectures(path) is not None
    if path.exists() or not HUB_ID.match(text):
        return False
    return not Path(text.split("/", 1)[0]).exists()


def _folder_architectures(folder: Path) -> list[str] | None:
    """The config's classifier architectures, or None when the folder holds no classifier."""
    config = folder / "config.json"
    if not config.is_file():
        return None
    try:
        archs = json.loads(config.read_text()).get("architectures") or []
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return None
    found = [a for a in archs if isinstance(a, str) and a.endswith(CLASSIFIER_SUFFIX)]
    return found or None


def _load_classifier(name: str):
    """(config, model, feature extractor) of a local folder, a cached hub id, or a hub id
    that exists online (downloaded once into the transformers cache)."""
    from transformers import (
        AutoConfig,
        AutoFeatureExtractor,
        AutoModelForAudioClassification,
        Wav2Vec2FeatureExtractor,
    )

    local = Path(name).expanduser().is_dir()

    def load(offline: bool):
        config = AutoConfig.from_pretrained(name, local_files_only=offline)
        model = AutoModelForAudioClassification.from_pretrained(name, local_files_only=offline)
        try:
            extractor = AutoFeatureExtractor.from_pretrained(name, local_files_only=offline)
        except (OSError, ValueError, KeyError):
            # No preprocessor_config.json: the wav2vec 2.0 defaults (zero mean, unit variance).
            extractor = Wav2Vec2FeatureExtractor(
                feature_size=1,
                sampling_rate=SAMPLE_RATE,
                do_normalize=True,
                return_attention_mask=True,
            )
        return config, model, extractor

    try:
        return load(offline=True)  # a folder, or a hub model downloaded before
    except Exception as exc:  # noqa: BLE001 - garbage weights raise safetensors', torch's types
        if not local and not isinstance(exc, (OSError, ValueError, KeyError)):
            raise ModelError(
                f"cannot load '{name}' as an audio classifier ({short_reason(exc)})."
            ) from None
        if local:
            raise ModelError(
                f"cannot load '{name}' as an audio classifier ({short_reason(exc)}); "
                "the folder should hold a transformers …ForSequenceClassification checkpoint."
            ) from None
    _check_on_hub(name)
    try:
        return load(offline=False)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(
            f"cannot load '{name}' from the Hugging Face hub as an audio classifier "
            f"({str(exc).splitlines()[0]})."
        ) from None


def _check_on_hub(name: str) -> None:
    """Fail fast, with the likely cause, when ``name`` is neither local nor on the hub
    (a mistyped run folder would otherwise wait through the hub client's retries)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        HfApi().model_info(name, timeout=HUB_TIMEOUT)
    except RepositoryNotFoundError:
        raise ModelError(
            f"model '{name}' not found: no such local folder, and no such model on the Hugging Face "
            "hub; give a `ser train` run folder, 'default', a classifier folder or a hub id."
        ) from None
    except Exception as exc:  # network down, proxy, timeout: any of them means the same here
        raise ModelError(
            f"model '{name}' is not a local folder, and the Hugging Face hub cannot be reached "
            f"to fetch it ({type(exc).__name__}); check the path, or connect once to download it."
        ) from None


def _n_outputs(model) -> int | None:
    """The classifier's output size, read from its last linear layer's weights."""
    import torch

    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    return layers[-1].out_features if layers else None


class HubPredictor:
    """A transformers audio classifier behind the predictor interface.

    ``features`` is the 16 kHz waveform, (n,) -> (n, 1) float32; ``predict_batch`` pads a
    batch of them with an attention mask (or runs them one by one where the checkpoint was
    not built for padded batches), normalises as the checkpoint's feature extractor does, and
    returns softmax probabilities (clips, classes). No speaker statistics: the checkpoint brings its own normalisation.
    """

    global_stats: Stats | None = None  # nothing to normalise by: the extractor does it
    max_seconds: float = WINDOW_SECONDS
    batch_size: int = BATCH_SIZE
    temperature: float = 1.0  # no calibration of its own

    def __init__(self, name_or_path: str, device: str = "cpu"):
        import torch

        from ser_cli.quiet import quiet_transformers

        quiet_transformers()
        from ser_cli.models.metadata import check_hub

        config, model, extractor = _load_classifier(str(name_or_path))
        names = check_hub(config.id2label, _n_outputs(model), name_or_path)
        self.labels, unmatched = map_model_labels(names)
        self.warnings: list[str] = []
        if unmatched:
            self.warnings.append(
                f"{name_or_path}: output label(s) {', '.join(unmatched)} match no known emotion; "
                "they are shown under their own names."
            )
        self.name = str(name_or_path)
        self.device = device
        self.extractor = extractor
        # Checkpoints pretrained without attention masks (wav2vec2-base style) must not get
        # one; and a group-normed conv front end pools its statistics over padding too. Either
        # way padding would change a clip's result, so such batches run clip by clip.
        self.uses_mask = bool(getattr(extractor, "return_attention_mask", True))
        self.batchable = self.uses_mask and getattr(config, "feat_extract_norm", "") != "group"
        self.model = model.to(device).eval()
        self.meta = {"model": "hub", "source": self.name, "labels": list(self.labels)}
        self._torch = torch

    set_threads = staticmethod(set_torch_threads)

    @cached_property
    def vad(self):
        """Voice activity detector, loaded on first use (only timelines and listen need it)."""
        from ser_cli.audio.vad import VoiceActivity

        return VoiceActivity()

    def uses_speaker_stats(self) -> bool:
        return False

    voice_encoder = None  # reads no voice features

    def features(self, samples: np.ndarray, voice: np.ndarray | None = None) -> np.ndarray:
        """The model input of one clip: its 16 kHz waveform, (n,) -> (n, 1) float32,
        centre-cut to MAX_SECONDS."""
        if voice is not None:
            raise ModelError(f"{self.name}: reads no voice features; no voice embedding to add.")
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        limit = int(MAX_SECONDS * SAMPLE_RATE)
        if samples.size > limit:
            cut = (samples.size - limit) // 2
            samples = samples[cut : cut + limit]
        return samples[:, None]

    def predict_batch(self, feats: list[np.ndarray], stats=None) -> np.ndarray:
        """Probabilities (clips, classes) for clips from :meth:`features`; ``stats`` is
        ignored (the checkpoint's feature extractor normalises)."""
        if not feats:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        if not self.batchable and len(feats) > 1:
            return np.concatenate([self.predict_batch([f]) for f in feats])
        torch = self._torch
        waves = [np.asarray(f, dtype=np.float32).reshape(-1) for f in feats]
        inputs = self.extractor(
            waves,
            sampling_rate=SAMPLE_RATE,
            padding=True,
            return_attention_mask=self.uses_mask,
            return_tensors="pt",
        )
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        with (
            torch.no_grad(),
            torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.startswith("cuda")),
        ):
            logits = self.model(**inputs).logits
        return torch.softmax(logits.float(), dim=-1).cpu().numpy()

    def as_dict(self, probs: np.ndarray) -> dict[str, float]:
        """{label: probability} of one clip's (classes,) probabilities, at full precision."""
        return {label: float(p) for label, p in zip(self.labels, probs, strict=True)}
