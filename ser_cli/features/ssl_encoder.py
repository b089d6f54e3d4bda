"""Hidden states of a pretrained speech encoder, every layer, through transformers.

Any wav2vec 2.0 / HuBERT / WavLM / data2vec-audio id or local folder loads with
``AutoModel``; Whisper checkpoints use their encoder only. The same code loads a Hugging Face
id (downloaded once into the transformers cache) and a folder written by
``save_pretrained`` — which is how the tests run it offline with a tiny random model.
"""

from __future__ import annotations

import numpy as np

from ser_cli.audio.io import SAMPLE_RATE
from ser_cli.errors import ModelError

# Fine-tuning feeds raw audio through the encoder. It travels through the feature pipeline
# (cache, clips, crops, padding masks) as (frames, WAVE_FRAME) arrays of consecutive samples.
WAVE_FRAME = 320  # samples per waveform frame: 20 ms at 16 kHz, the wav2vec 2.0-family stride

_LOADED: dict[str, tuple] = {}


def load_encoder(name_or_path: str, device: str = "cpu"):
    """(feature_extractor, encoder module, is_whisper), loaded once per process."""
    key = f"{name_or_path}@{device}"
    if key not in _LOADED:
        from ser_cli.quiet import quiet_transformers

        quiet_transformers()
        try:
            from transformers import AutoConfig, AutoFeatureExtractor, AutoModel

            config = AutoConfig.from_pretrained(name_or_path)
            extractor = AutoFeatureExtractor.from_pretrained(name_or_path)
            model = AutoModel.from_pretrained(name_or_path)
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"cannot load speech encoder '{name_or_path}' ({str(exc).splitlines()[0]}); "
                "check the Hugging Face id (network needed on first use) or the local folder."
            ) from None
        is_whisper = config.model_type == "whisper"
        if is_whisper:
            model = model.get_encoder()
        model.to(device).eval()
        _LOADED[key] = (extractor, model, is_whisper)
    return _LOADED[key]


def encode_all_layers(
    samples: np.ndarray, name_or_path: str, *, max_seconds: float = 8.0, device: str = "cpu"
) -> np.ndarray:
    """Hidden states of every layer for 16 kHz audio.

    Args:
        samples: (n,) float32 at SAMPLE_RATE; cut to ``max_seconds`` around the centre.
    Returns:
        (layers, frames, dims) float32, layers = embeddings output + one per block.
    """
    import torch

    extractor, model, is_whisper = load_encoder(name_or_path, device)
    from ser_cli.features.frames import centre_crop

    samples = centre_crop(samples, int(max_seconds * SAMPLE_RATE), axis=-1)
    inputs = extractor(samples, sampling_rate=SAMPLE_RATE, return_tensors="pt")
    with torch.no_grad():
        if is_whisper:
            out = model(inputs["input_features"].to(device), output_hidden_states=True)
            # Whisper pads to 30 s: keep the frames that cover the real audio (50 per second).
            keep = max(1, int(np.ceil(len(samples) / SAMPLE_RATE * 50)))
            states = [h[:, :keep] for h in out.hidden_states]
        else:
            out = model(inputs["input_values"].to(device), output_hidden_states=True)
            states = out.hidden_states
    return torch.stack([h[0] for h in states]).float().cpu().numpy()


def waveform_frames(samples: np.ndarray, max_seconds: float) -> np.ndarray:
    """16 kHz audio as consecutive 20 ms frames, for an encoder that is fine-tuned.

    Args:
        samples: (n,) float32 at SAMPLE_RATE; cut to ``max_seconds`` around the centre.
    Returns:
        (ceil(n / WAVE_FRAME), WAVE_FRAME) float32; the last frame zero-padded.
    """
    limit = int(max_seconds * SAMPLE_RATE)
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if samples.size > limit:
        cut = (samples.size - limit) // 2
        samples = samples[cut : cut + limit]
    frames = max(1, -(-samples.size // WAVE_FRAME))
    out = np.zeros(frames * WAVE_FRAME, dtype=np.float32)
    out[: samples.size] = samples
    return out.reshape(frames, WAVE_FRAME)
