"""The canonical emotion label set, shared by every corpus, model and command."""

from __future__ import annotations

# The 8 RAVDESS emotions, in RAVDESS code order (code 01 = neutral ... 08 = surprised).
EMOTIONS: tuple[str, ...] = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
)

# Spellings seen in corpora and user CSVs, mapped onto the canonical names.
ALIASES: dict[str, str] = {
    "neu": "neutral",
    "neutral": "neutral",
    "calm": "calm",
    "hap": "happy",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "sad": "sad",
    "sadness": "sad",
    "ang": "angry",
    "anger": "angry",
    "angry": "angry",
    "fea": "fearful",
    "fear": "fearful",
    "fearful": "fearful",
    "dis": "disgust",
    "disgust": "disgust",
    "disgusted": "disgust",
    "sur": "surprised",
    "surprise": "surprised",
    "surprised": "surprised",
    "ps": "surprised",  # TESS "pleasant surprise"
    "pleasant_surprise": "surprised",
    "pleasant_surprised": "surprised",
}

# Shown in place of an emotion where a segment holds no speech.
SILENCE = "silence"
# Shown in place of an emotion when the top probability is below --min-confidence.
UNCERTAIN = "uncertain"


def canonical_label(name: str) -> str | None:
    """Map a corpus or user spelling to a canonical emotion, or None when unknown."""
    return ALIASES.get(name.strip().lower().replace(" ", "_").replace("-", "_"))


def map_model_labels(names: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Map a foreign model's output names (e.g. a hub checkpoint's ``id2label``, in output
    order) onto the canonical emotions.

    Case, surrounding whitespace, spaces and hyphens are ignored (``" Anger"`` -> ``angry``).
    A name that matches nothing keeps its own (stripped) spelling; so does a second name that
    maps onto an emotion already taken, so the result never holds a label twice.
    Returns (labels in the same order, the names kept as they were, each listed once).
    """
    labels: list[str] = []
    kept: list[str] = []
    for name in names:
        canonical = canonical_label(str(name))
        if canonical is not None and canonical not in labels:
            labels.append(canonical)
            continue
        own = str(name).strip()
        while own in labels:  # two foreign names that differ only in case or spacing
            own += "_"
        labels.append(own)
        if str(name).strip() not in kept:
            kept.append(str(name).strip())
    return tuple(labels), tuple(kept)
