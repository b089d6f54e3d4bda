"""Train/val/test splits and cross-validation folds for a manifest's rows.

The default split is speaker-disjoint: no speaker has clips in two splits, so test accuracy
measures how the model does on voices it never heard. Speakers are drawn alternating genders
(for 20 RAVDESS actors: 14 train, 3 val, 3 test, each held-out split with both genders), and
among seeded draws the first that puts every emotion in every split is kept. The random split
assigns clips, stratified by emotion; it leaks speakers across splits and flatters accuracy.

Every function takes row dicts with at least ``label``, ``speaker`` and ``gender`` and returns
an :class:`Assignment` aligned with those rows. Same rows and seed, same assignment.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ser_cli.data.manifest import SPLITS
from ser_cli.errors import DatasetError
from ser_cli.labels import EMOTIONS

TRAIN, VAL, TEST = SPLITS
SPEAKER, RANDOM = "speaker", "random"  # the split methods
SPLIT_METHODS = (SPEAKER, RANDOM)

VAL_SHARE = 0.15  # of speakers (speaker split) or of each emotion's clips (random split)
TEST_SHARE = 0.15  # the rest, about 70 %, is train
MIN_SPEAKERS = 3  # one each for train, val and test
MIN_FOLDS = 2
# Seeded draws tried before settling for a split that lacks some emotion somewhere.
MAX_ATTEMPTS = 200
_LISTED_SPEAKERS = 30  # speakers named in an error message before "..."

RANDOM_SPLIT_WARNING = (
    "--split random puts clips of the same speaker in train, val and test, so accuracy will "
    "look higher than it is on new speakers; prefer the default speaker split."
)

Row = Mapping[str, object]


@dataclass(frozen=True)
class Assignment:
    """A split name (or fold number) per row, in row order, and what fell short."""

    values: list  # one per input row: "train"/"val"/"test", or a fold number 0..K-1
    warnings: list[str]


def speaker_split(
    rows: Sequence[Row],
    *,
    test_speakers: Sequence[str] | None = None,
    val_speakers: Sequence[str] | None = None,
    seed: int = 0,
) -> Assignment:
    """Speaker-disjoint train/val/test, gender-alternating and covering every emotion.

    ``test_speakers`` / ``val_speakers`` fix those splits (names as in the corpus; "1" also
    finds "01", "dc" finds "DC"); the other held-out split is drawn from the remaining
    speakers. Raises DatasetError for unknown or repeated speakers, too few speakers, or
    overrides that leave no speaker to train on.
    """
    profiles = _profiles(rows)
    speakers = sorted(profiles)
    if len(speakers) < MIN_SPEAKERS:
        raise DatasetError(
            f"a speaker-disjoint split needs at least {MIN_SPEAKERS} speakers; this corpus has "
            f"{len(speakers)} ({', '.join(speakers)}). Give clips speakers (a speaker column or "
            "folder), or pass --split random (it leaks speakers between splits)."
        )
    fixed_test = _resolve(test_speakers, speakers, "--test-speakers")
    fixed_val = _resolve(val_speakers, speakers, "--val-speakers")
    both = sorted(set(fixed_test) & set(fixed_val))
    if both:
        raise DatasetError(
            f"speaker(s) {', '.join(both)} are in both --test-speakers and --val-speakers; "
            "a speaker may be in one split only."
        )
    n_test = len(fixed_test) or _held_out(len(speakers), TEST_SHARE)
    n_val = len(fixed_val) or _held_out(len(speakers), VAL_SHARE)
    if n_test + n_val >= len(speakers):
        raise DatasetError(
            f"the test and val speakers ({n_test} + {n_val}) leave none of the "
            f"{len(speakers)} speakers for training; name fewer with --test-speakers/--val-speakers."
        )

    def draw(rng: random.Random) -> dict[str, str]:
        free = [s for s in speakers if s not in fixed_test and s not in fixed_val]
        order = _gender_interleaved(free, profiles, rng)
        test = list(fixed_test) or order[:n_test]
        order = [s for s in order if s not in test]
        val = list(fixed_val) or order[:n_val]
        split = dict.fromkeys(speakers, TRAIN)
        split.update(dict.fromkeys(val, VAL))
        split.update(dict.fromkeys(test, TEST))
        return split

    by_speaker = _best_draw(draw, profiles, seed)
    values = [by_speaker[str(row["speaker"])] for row in rows]
    return Assignment(values, _coverage_warnings(rows, values, "split"))


def random_split(rows: Sequence[Row], *, seed: int = 0) -> Assignment:
    """Clip-level train/val/test, stratified so each emotion is split about 70/15/15.

    Always carries RANDOM_SPLIT_WARNING: the same speaker ends up on both sides.
    """
    rng = random.Random(seed)
    values: list[str] = [TRAIN] * len(rows)
    for label in _labels(rows):
        members = [i for i, row in enumerate(rows) if row["label"] == label]
        rng.shuffle(members)
        # An emotion with fewer clips than splits stays in train rather than leave it empty.
        enough = len(members) >= len(SPLITS)
        n_test = _held_out(len(members), TEST_SHARE) if enough else 0
        n_val = _held_out(len(members), VAL_SHARE) if enough else 0
        for i in members[:n_test]:
            values[i] = TEST
        for i in members[n_test : n_test + n_val]:
            values[i] = VAL
    warnings = [RANDOM_SPLIT_WARNING, *_coverage_warnings(rows, values, "split")]
    return Assignment(values, warnings)


def speaker_folds(rows: Sequence[Row], folds: int, *, seed: int = 0) -> Assignment:
    """Speaker-disjoint folds 0..folds-1 for cross-validation, gender-balanced.

    Speakers of each gender are dealt round the folds in turn, continuing from fold to fold,
    so fold sizes differ by at most one speaker (20 RAVDESS actors, 5 folds: 2 male and 2
    female actors a fold). Raises DatasetError for fewer than 2 folds or than ``folds`` speakers.
    """
    profiles = _profiles(rows)
    speakers = sorted(profiles)
    if folds < MIN_FOLDS:
        raise DatasetError(f"--folds needs at least {MIN_FOLDS} folds (or 0 for no folds).")
    if folds > len(speakers):
        raise DatasetError(
            f"--folds {folds} needs at least {folds} speakers; this corpus has {len(speakers)}. "
            "Ask for fewer folds."
        )

    def draw(rng: random.Random) -> dict[str, int]:
        by_gender = _by_gender(speakers, profiles, rng)
        order = [s for gender in sorted(by_gender) for s in by_gender[gender]]
        return {speaker: i % folds for i, speaker in enumerate(order)}

    by_speaker = _best_draw(draw, profiles, seed)
    values = [by_speaker[str(row["speaker"])] for row in rows]
    return Assignment(values, _coverage_warnings(rows, values, "fold"))


@dataclass
class _Profile:
    gender: str
    labels: set[str]


def _profiles(rows: Sequence[Row]) -> dict[str, _Profile]:
    """Each speaker's gender (the first one given) and the emotions they have clips of."""
    profiles: dict[str, _Profile] = {}
    for row in rows:
        profile = profiles.setdefault(str(row["speaker"]), _Profile("", set()))
        profile.gender = profile.gender or str(row.get("gender") or "")
        profile.labels.add(str(row["label"]))
    return profiles


def _labels(rows: Sequence[Row]) -> list[str]:
    """The emotions present, in canonical order (any unknown label after them, sorted)."""
    present = {str(row["label"]) for row in rows}
    return [e for e in EMOTIONS if e in present] + sorted(present - set(EMOTIONS))


def _held_out(count: int, share: float) -> int:
    """How many of ``count`` items a held-out split takes: at least one."""
    return max(1, round(share * count))


def _by_gender(
    speakers: Sequence[str], profiles: Mapping[str, _Profile], rng: random.Random
) -> dict[str, list[str]]:
    """Speakers grouped by gender ("" for unknown), each group shuffled."""
    groups: dict[str, list[str]] = {}
    for speaker in sorted(speakers):
        groups.setdefault(profiles[speaker].gender, []).append(speaker)
    for gender in sorted(groups):
        rng.shuffle(groups[gender])
    return groups


def _gender_interleaved(
    speakers: Sequence[str], profiles: Mapping[str, _Profile], rng: random.Random
) -> list[str]:
    """Speakers in an order that alternates genders (which comes first is drawn too)."""
    groups = _by_gender(speakers, profiles, rng)
    known = sorted(g for g in groups if g)
    rng.shuffle(known)
    queues = [groups[g] for g in known] + ([groups[""]] if "" in groups else [])
    order: list[str] = []
    for i in range(max((len(q) for q in queues), default=0)):
        order += [q[i] for q in queues if i < len(q)]
    return order


def _best_draw(draw: Callable[[random.Random], dict], profiles: Mapping[str, _Profile], seed: int):
    """The first seeded draw that gives every group every emotion, else the one missing fewest."""
    rng = random.Random(seed)
    labels = set().union(*(p.labels for p in profiles.values()))
    best, best_missing = None, None
    for _ in range(MAX_ATTEMPTS):
        assignment = draw(rng)
        covered: dict[object, set[str]] = {}
        for speaker, group in assignment.items():
            covered.setdefault(group, set()).update(profiles[speaker].labels)
        missing = sum(len(labels - found) for found in covered.values())
        if best_missing is None or missing < best_missing:
            best, best_missing = assignment, missing
        if missing == 0:
            break
    return best


def _coverage_warnings(rows: Sequence[Row], values: Sequence, kind: str) -> list[str]:
    """One warning per split or fold that lacks an emotion the corpus has."""
    labels = _labels(rows)
    found: dict[object, set[str]] = {}
    for row, value in zip(rows, values, strict=True):
        found.setdefault(value, set()).add(str(row["label"]))
    groups = [s for s in SPLITS if s in found] if kind == "split" else sorted(found)
    warnings = []
    for group in groups:
        missing = [label for label in labels if label not in found[group]]
        if missing:
            warnings.append(
                f"{kind} {group} has no clips of {', '.join(missing)}; its scores will not "
                "cover those emotions (too few speakers have them)."
            )
    for split in SPLITS if kind == "split" else ():
        if split not in found:
            warnings.append(f"split {split} is empty: too few clips to hold any out.")
    return warnings


def _resolve(names: Sequence[str] | None, speakers: Sequence[str], option: str) -> list[str]:
    """Map user-typed speaker names onto the corpus's; DatasetError naming unknown ones."""
    if not names:
        return []
    resolved, unknown = [], []
    for name in names:
        match = _match_speaker(name.strip(), speakers)
        if match is None:
            unknown.append(name)
        elif match not in resolved:
            resolved.append(match)
    if unknown:
        shown = ", ".join(speakers[:_LISTED_SPEAKERS])
        more = f" ... ({len(speakers)} in all)" if len(speakers) > _LISTED_SPEAKERS else ""
        raise DatasetError(
            f"unknown speaker(s) in {option}: {', '.join(unknown)}; "
            f"this corpus has speakers {shown}{more}."
        )
    return resolved


def _match_speaker(name: str, speakers: Sequence[str]) -> str | None:
    """Exact match first, then ignoring case, then as a number ("1" is "01")."""
    if name in speakers:
        return name
    for speaker in speakers:
        if speaker.lower() == name.lower():
            return speaker
    if name.isdigit():
        for speaker in speakers:
            if speaker.isdigit() and int(speaker) == int(name):
                return speaker
    return None
