"""A folder per label: ``root/<label>/**/<file>``, for corpora with no naming convention.

The first folder under the root is the label (any spelling ``labels.canonical_label`` knows:
``angry``, ``anger``, ``ang`` ...). The speaker is the next folder when there is one, so
``root/angry/spk01/take3.wav`` is speaker ``spk01``; a file directly in the label folder has
speaker ``unknown``, because guessing one from a file name would be wrong as often as right.
All clips of unknown speakers count as one speaker, so a speaker-disjoint split needs the
``root/<label>/<speaker>/`` layout (or ``--split random``). Gender is not known.
"""

from __future__ import annotations

from pathlib import Path

from ser_cli.data.corpora.base import UNKNOWN_SPEAKER, Mismatch, ParsedClip, ParseResult, parse_tree
from ser_cli.labels import EMOTIONS, canonical_label

NAME = "folders"
DESCRIPTION = "a folder per label: <label>/[<speaker>/]file.wav"

# Parts of a path relative to the root: label folder, speaker folder, file name.
_WITH_SPEAKER = 3


def matches(path: Path, root: Path) -> bool:
    """True when the file sits under a folder named after an emotion."""
    parts = path.relative_to(root).parts
    return len(parts) >= 2 and canonical_label(parts[0]) is not None


def parse_file(path: Path, root: Path) -> ParsedClip:
    """Label and speaker from the folders; raises Mismatch outside a label folder."""
    parts = path.relative_to(root).parts
    if len(parts) < 2:
        raise Mismatch("file is not inside a label folder (expected <label>/[<speaker>/]file)")
    label = canonical_label(parts[0])
    if label is None:
        raise Mismatch(
            f"folder '{parts[0]}' is not an emotion label (one of {', '.join(EMOTIONS)})"
        )
    speaker = parts[1] if len(parts) >= _WITH_SPEAKER else UNKNOWN_SPEAKER
    return ParsedClip(path=path, label=label, speaker=speaker)


def parse(root: Path) -> ParseResult:
    """Every audio file under ``root``, labelled by its folder."""
    return parse_tree(root, parse_file)
