"""What a run tells as it goes: lines (stderr, train.log), metric rows (CSV, JSONL), curves."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from prettymeter.console import console
from prettymeter.training.records import json_default

LOG_FILE = "train.log"
ROWS_FILE = "metrics.jsonl"
CSV_FILE = "metrics.csv"
CURVES_FILE = "learning_curves.png"
# learning_curves.png is redrawn after the run's first epoch and each member's last, and in
# between at most this often: a drawing costs about a second, as much as a small run's epoch.
CURVES_EVERY_S = 60.0
CSV_COLUMNS = (
    "member", "epoch", "train_loss", "val_loss", "val_pc", "val_mae", "val_rmse", "lr",
    "images_per_s", "seconds",
)  # fmt: skip


class Logger:
    """Lines to stderr and to train.log; metric rows to metrics.csv/.jsonl (and TensorBoard).

    Only the master process writes (`enabled`); the other ranks' loggers stay silent.
    """

    def __init__(self, run: Path, enabled: bool) -> None:
        self.run = run
        self.enabled = enabled
        self.tb: Any = None
        self._curves_drawn: float | None = None  # monotonic time of the last drawing
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(run / "tensorboard"))
            except ImportError:  # TensorBoard is optional
                self.tb = None

    def line(self, text: str) -> None:
        if not self.enabled:
            return
        console.print(text, markup=False)
        with open(self.run / LOG_FILE, "a", encoding="utf-8") as handle:
            handle.write(time.strftime("%Y-%m-%d %H:%M:%S ") + text + "\n")

    def row(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.run / ROWS_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, default=json_default) + "\n")
        csv_path = self.run / CSV_FILE
        new = not csv_path.exists()
        with open(csv_path, "a", encoding="utf-8") as handle:
            if new:
                handle.write(",".join(CSV_COLUMNS) + "\n")
            handle.write(",".join(str(row.get(k, "")) for k in CSV_COLUMNS) + "\n")
        if self.tb is not None:
            step = int(row["epoch"])
            for key, value in row.items():
                if isinstance(value, float):
                    self.tb.add_scalar(f"{row['member']}/{key}", value, step)
            self.tb.flush()

    def curves(self, last: bool) -> None:
        """Redraw learning_curves.png after a member's `last` epoch, or when it is due."""
        if not self.enabled:
            return
        drawn = self._curves_drawn
        if last or drawn is None or time.monotonic() - drawn >= CURVES_EVERY_S:
            redraw_curves(self.run)
            self._curves_drawn = time.monotonic()


def redraw_curves(run: Path) -> None:
    """learning_curves.png from every metric row so far."""
    from prettymeter.data.plots import learning_curves

    rows = [
        json.loads(line)
        for line in (run / ROWS_FILE).read_text(encoding="utf-8").splitlines()
        if line
    ]
    learning_curves(rows, run / CURVES_FILE)
