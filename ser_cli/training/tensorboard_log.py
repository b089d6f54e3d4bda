"""TensorBoard event files for a training run (`ser train --tensorboard`).

Each epoch's history record (training loss, learning rate, validation accuracy, UAR and
macro-F1) becomes scalars in ``<run>/tensorboard``, so `tensorboard --logdir RUN` follows a
run while it trains, as it does for other training tools in this field.
"""

from __future__ import annotations

from pathlib import Path

from ser_cli.errors import ConfigError

TENSORBOARD_DIR = "tensorboard"  # inside the run folder
# history key -> TensorBoard tag; grouped so loss and validation metrics get their own panels
TAGS = {
    "train_loss": "loss/train",
    "lr": "optim/lr",
    "val_accuracy": "val/accuracy",
    "val_uar": "val/uar",
    "val_macro_f1": "val/macro_f1",
}


class TensorBoardLog:
    """Call with each epoch's history record; ``close()`` when training ends."""

    def __init__(self, run_dir: str | Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError(
                "--tensorboard needs the tensorboard package: pip install 'ser-cli[tensorboard]'."
            ) from None
        self.folder = Path(run_dir) / TENSORBOARD_DIR
        self.writer = SummaryWriter(log_dir=str(self.folder))

    def __call__(self, record: dict) -> None:
        for key, tag in TAGS.items():
            if key in record:
                self.writer.add_scalar(tag, float(record[key]), global_step=int(record["epoch"]))
        self.writer.flush()  # visible in TensorBoard now, not when the run ends

    def close(self) -> None:
        self.writer.close()
