"""Scoring a model on a corpus whose emotions are not the model's: what maps, and how.

A model trained on RAVDESS knows 8 emotions; EmoDB has 6 of them (plus boredom), CREMA-D 6,
a user's folder perhaps 4. To score such a corpus fairly the model's probabilities are
mapped onto the classes both share:

- corpus labels the model lacks are **excluded**: their clips cannot be scored and are listed;
- a model class the corpus lacks is **merged** into its nearest corpus class when there is one
  (calm into neutral: both are low-arousal, unmarked speech, and corpora without calm record
  that speech as neutral);
- every other model class the corpus lacks is **dropped** and the remaining probabilities are
  renormalised, i.e. the model is asked "which of the corpus's emotions is it?".

The same machinery gives the 4-class angry/happy/neutral/sad view that cross-corpus benchmarks
report (e.g. EmoBox): :data:`FOUR_CLASSES` treated as the corpus's label set.
Pure numpy; no model, file or metric code here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

# Model class -> corpus class that takes its probability when the corpus lacks the former.
MERGES: dict[str, str] = {"calm": "neutral"}
# The emotions nearly every corpus shares: the common cross-corpus comparison.
FOUR_CLASSES: tuple[str, ...] = ("angry", "happy", "neutral", "sad")


@dataclass(frozen=True)
class LabelMapping:
    """How a model's output classes map onto a corpus's labels."""

    model_labels: tuple[str, ...]  # the model's classes, in output order
    labels: tuple[str, ...]  # the classes scored (shared by both), in model order
    excluded: tuple[str, ...]  # corpus labels the model lacks: their clips are not scored
    merged: dict[str, str] = field(default_factory=dict)  # model label -> scored label it joins
    dropped: tuple[str, ...] = ()  # model labels removed before renormalising

    @property
    def is_identity(self) -> bool:
        """True when the model's classes are scored as they are."""
        return self.labels == self.model_labels

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """Model probabilities (clips, model classes) -> (clips, scored classes), rows summing
        to 1: merged classes added to their target, dropped ones removed, then renormalised."""
        probs = np.asarray(probs, dtype=np.float64)
        if probs.ndim != 2 or probs.shape[1] != len(self.model_labels):
            expected = f"(clips, {len(self.model_labels)})"
            raise ValueError(f"expected probabilities of shape {expected}, got {probs.shape}")
        if self.is_identity:
            return probs
        column = {label: i for i, label in enumerate(self.model_labels)}
        out = probs[:, [column[label] for label in self.labels]].copy()
        for source, target in self.merged.items():
            out[:, self.labels.index(target)] += probs[:, column[source]]
        total = out.sum(axis=1, keepdims=True)
        # A row with no mass left (every probability on dropped classes) becomes uniform.
        return np.where(total > 0, out / np.where(total > 0, total, 1.0), 1.0 / len(self.labels))

    def targets(self, true_labels: Iterable[str]) -> np.ndarray:
        """Indices into ``labels`` of clips' true labels (each must be scored)."""
        index = {label: i for i, label in enumerate(self.labels)}
        return np.array([index[label] for label in true_labels], dtype=np.int64)

    def to_dict(self) -> dict:
        return {
            "scored_labels": list(self.labels),
            "excluded_labels": list(self.excluded),
            "merged_labels": dict(self.merged),
            "dropped_labels": list(self.dropped),
        }


def map_labels(
    model_labels: Sequence[str], corpus_labels: Iterable[str], merges: dict[str, str] = MERGES
) -> LabelMapping:
    """The mapping of a model's classes onto a corpus's label set (see the module docstring)."""
    model_labels = tuple(model_labels)
    corpus = set(corpus_labels)
    labels = tuple(label for label in model_labels if label in corpus)
    excluded = tuple(sorted(corpus - set(model_labels)))
    merged = {
        source: target
        for source, target in merges.items()
        if source in model_labels and source not in corpus and target in labels
    }
    dropped = tuple(label for label in model_labels if label not in corpus and label not in merged)
    return LabelMapping(model_labels, labels, excluded, merged, dropped)


def four_class_mapping(model_labels: Sequence[str]) -> LabelMapping | None:
    """The angry/happy/neutral/sad view, or None when the model lacks one of the four."""
    if not set(FOUR_CLASSES) <= set(model_labels):
        return None
    return map_labels(model_labels, FOUR_CLASSES)


def scorable_rows(
    rows: list[dict], model_labels: Sequence[str], corpus_labels: Iterable[str] | None = None
) -> tuple[list[dict], list[str]]:
    """The manifest rows whose label the model knows, and the corpus's label set (by default the
    model's own plus those of ``rows``: a split that happens to lack a class maps nothing).

    Raises ManifestError when no row is left to score.
    """
    from ser_cli.errors import ManifestError

    given = {r["label"] for r in rows}
    corpus_labels = {*(model_labels if corpus_labels is None else corpus_labels), *given}
    kept = [r for r in rows if r["label"] in model_labels]
    if not kept:
        raise ManifestError(
            f"none of the clips' labels ({', '.join(sorted(given)) or 'no clips'}) is one the "
            f"model knows ({', '.join(model_labels)}); nothing to score."
        )
    return kept, sorted(corpus_labels)


def map_probabilities(
    model_labels: Sequence[str], corpus_labels: Iterable[str], probs: np.ndarray
) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """(mapped probabilities (clips, kept), kept labels, excluded corpus labels)."""
    mapping = map_labels(model_labels, corpus_labels)
    return mapping.apply(probs), mapping.labels, mapping.excluded
