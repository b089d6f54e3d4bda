"""A run folder as training leaves it: its config, history, ``best`` and ``last``, and resuming.

After every complete epoch the trainer appends the epoch to ``history.jsonl``, saves ``best``
when validation UAR improved, and saves ``last`` with the optimizer state; nothing is written
mid-epoch. So Ctrl-C at any moment leaves ``last`` at the end of the last complete epoch, and
``--resume`` replays the run from there exactly (each epoch draws from its own seeds). A resume
must use the run's own recipe: only the settings in RESUME_SAFE may change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ser_cli.atomic import write_text
from ser_cli.config import RunConfig, load_run_config, read_config_file
from ser_cli.errors import ConfigError, ModelError, SerError
from ser_cli.models.checkpoint import (
    load_weights,
    read_sidecar,
    restore_optimizer,
    save_checkpoint,
)
from ser_cli.training import distributed

HISTORY_NAME = "history.jsonl"
CONFIG_NAME = "config.yaml"
# Settings a resumed run may change: they pick the hardware or lengthen/shorten the schedule,
# not what is trained. Any other difference from the run's config.yaml refuses --resume.
RESUME_SAFE = ("train.epochs", "train.patience", "train.device", "train.amp", "train.num_threads")
METRICS_LOGGED = ("accuracy", "uar", "macro_f1")  # validation metrics kept in the history


class TrainingInterrupted(SerError):
    """Training was stopped by the user; ``last`` holds the last complete epoch."""

    exit_code = 130


@dataclass
class RunState:
    """Where a run stands after ``epoch`` complete epochs (0: not started)."""

    epoch: int = 0
    best_uar: float = -1.0  # best validation UAR so far (-1: none yet)
    stale: int = 0  # epochs since it last improved (early stopping)
    history: list[dict] = field(default_factory=list)  # one record per epoch

    def stopped(self, patience: int) -> bool:
        """True when early stopping ended the run (0: never stop early)."""
        return bool(patience) and self.stale >= patience

    def as_meta(self) -> dict:
        """The sidecar fields that let --resume continue from here."""
        return {"epoch": self.epoch, "best_uar": self.best_uar, "stale": self.stale}


def saved_config(run_dir: str | Path) -> dict | None:
    """The settings a run folder (or a CV folder) was trained with, as a mapping; None if none."""
    run_dir = Path(run_dir)
    candidates = [run_dir / CONFIG_NAME, *sorted(run_dir.glob(f"fold*/{CONFIG_NAME}"))]
    for path in candidates:
        if path.is_file():
            return read_config_file(path)
    return None


def check_same_recipe(saved: dict, cfg: RunConfig, run_dir: Path) -> None:
    """Refuse (one line, nothing written) a resume whose settings differ beyond RESUME_SAFE."""
    old = _flat(load_run_config(base=saved).to_dict())
    new = _flat(cfg.to_dict())
    changed = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    changed = [k for k in changed if k not in RESUME_SAFE]
    if changed:
        shown = "; ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in changed[:4])
        more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
        raise ConfigError(
            f"{run_dir}: --resume with a changed recipe ({shown}{more}); resume with the run's "
            "own settings (only epochs, patience, device, amp and threads may change) "
            "or train into a new --out."
        )


def _flat(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and key != "model_options":
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def check_run_folder(run_dir: Path, cfg: RunConfig, resume: bool) -> None:
    """A new run needs a folder without one; a resume needs ``last`` and the same recipe."""
    if resume and not (run_dir / "last.json").exists():
        raise ConfigError(f"{run_dir}: nothing to resume (no last.json); start without --resume.")
    if not resume and (run_dir / "last.json").exists():
        raise ConfigError(
            f"{run_dir}: already holds a run; use --resume to continue it or choose another --out."
        )
    if resume:
        saved = saved_config(run_dir)
        if saved is None:
            raise ConfigError(
                f"{run_dir}: no {CONFIG_NAME} to resume from; start without --resume."
            )
        check_same_recipe(saved, cfg, run_dir)


def restore(run_dir: Path, model, optimizer, device: str) -> RunState:
    """Load ``last`` (weights and optimizer) into ``model`` and ``optimizer``; the run's state."""
    meta = read_sidecar(run_dir, "last")
    try:
        load_weights(run_dir, "last", model, device)
        optim_path = run_dir / "last.optim.safetensors"
        if optim_path.exists():
            restore_optimizer(optimizer, optim_path)
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors, torch and KeyError all mean "damaged"
        raise ModelError(
            f"{run_dir}: cannot resume, the last checkpoint is damaged "
            f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
            "train into a new --out."
        ) from None
    history = read_history(run_dir)[: meta["epoch"]]
    if distributed.is_main_process():
        write_history(run_dir, history)
    return RunState(meta["epoch"], meta.get("best_uar", -1.0), meta.get("stale", 0), history)


def track_best(metrics: dict, best_uar: float, stale: int) -> tuple[bool, float, int]:
    """After an epoch: (improved, best_uar, stale) for checkpointing and early stopping.

    Without a val split (``metrics`` empty) every epoch counts as improved and none as stale.
    """
    improved = not metrics or metrics["uar"] > best_uar
    if metrics and improved:
        best_uar, stale = metrics["uar"], 0
    elif metrics:
        stale += 1
    return improved, best_uar, stale


def end_epoch(
    run_dir: Path,
    state: RunState,
    record: dict,
    metrics: dict,
    *,
    model,
    optimizer,
    meta: dict,
    global_stats,
    is_main: bool = True,
) -> bool:
    """Record a complete epoch: ``state`` advanced, history written, ``best`` saved when
    validation improved, ``last`` (with the optimizer) always. Returns whether it improved."""
    record = {**record, **{f"val_{k}": v for k, v in metrics.items() if k in METRICS_LOGGED}}
    state.history.append(record)
    improved, state.best_uar, state.stale = track_best(metrics, state.best_uar, state.stale)
    state.epoch = record["epoch"]
    if is_main:
        write_history(run_dir, state.history)
        sidecar = {**meta, "metrics": metrics, **state.as_meta()}
        if improved:
            save_checkpoint(run_dir, "best", model, sidecar, global_stats)
        save_checkpoint(run_dir, "last", model, sidecar, global_stats, optimizer)
    return improved


def interrupted(run_dir: Path, epoch: int) -> TrainingInterrupted:
    """The error for Ctrl-C during ``epoch`` (0-based). The weights in memory are part-way
    through it and are dropped: saving them under the previous epoch's number would make
    --resume replay the epoch on top of them."""
    if (run_dir / "last.json").exists():
        done = read_sidecar(run_dir, "last").get("epoch", 0)
        return TrainingInterrupted(
            f"interrupted during epoch {epoch + 1}; {run_dir / 'last.safetensors'} holds "
            f"epoch {done}. Continue with --resume."
        )
    return TrainingInterrupted(
        f"interrupted during epoch {epoch + 1}, before any epoch finished: nothing to resume; "
        "run the same command again (without --resume)."
    )


def finished(run_dir: str | Path) -> bool:
    """True when the run in ``run_dir`` trained to its end: ``last`` holds its schedule's last
    epoch, or early stopping ended it. A killed run leaves ``best`` and ``last`` at an earlier
    epoch: not finished, to be continued with ``--resume``, never kept as if done."""
    try:
        meta = read_sidecar(Path(run_dir), "last")
    except ModelError:
        return False
    train = meta["train_config"]
    patience = train.get("patience", 0)
    return meta.get("epoch") == train.get("epochs") or RunState(
        epoch=meta.get("epoch", 0), stale=meta.get("stale", 0)
    ).stopped(patience)


def read_history(run_dir: Path) -> list[dict]:
    """history.jsonl's records; a damaged line (a truncated last write) ends the history."""
    path = run_dir / HISTORY_NAME
    if not path.is_file():
        return []
    history = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            break
        if not isinstance(record, dict):
            break
        history.append(record)
    return history


def write_history(run_dir: Path, history: list[dict]) -> None:
    """Rewrite history.jsonl whole and atomically (a crash never leaves half a line)."""
    write_text(run_dir / HISTORY_NAME, "".join(json.dumps(h) + "\n" for h in history))


def save_curve(run_dir: Path, history: list[dict]) -> None:
    """training_curve.png beside history.jsonl (loss, validation UAR and accuracy per epoch)."""
    from ser_cli.plots import CURVE_NAME, save_training_curve

    save_training_curve(history, run_dir / CURVE_NAME)
