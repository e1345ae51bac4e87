"""What a training run writes besides checkpoints (rank 0 only): CSV logs, TensorBoard events, a curve PNG.

Files in the run folder:

* ``train_log.csv``: ``step, epoch, loss, <terms>, lr, grad_norm, data_wait, step_time_s, images_per_s, bad_steps``,
  one row per ``train.log_every`` steps (averages over the window); ``data_wait`` is the fraction of wall time
  the training loop spent waiting for the next batch;
* ``val_log.csv``: ``step, pa_mpjpe_mm, pa_mpvpe_mm, num_samples``;
* ``tb/``: TensorBoard scalars (the same numbers) and images of predicted meshes over validation crops;
* ``training_curve.png``: loss and validation PA-MPJPE against steps (:func:`plot_training_curve`).

On resume, rows after the resumed step are dropped (they belong to the interrupted tail) and TensorBoard purges
its events after that step, so logs read as one run.
"""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["RunLogger", "plot_training_curve", "read_csv_log"]

logger = logging.getLogger(__name__)

TRAIN_LOG = "train_log.csv"
VAL_LOG = "val_log.csv"
CURVE_PNG = "training_curve.png"


def read_csv_log(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A CSV log as ``{column: float array}`` (empty cells become NaN); ``{}`` if the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}

    def num(v: str | None) -> float:
        try:
            return float(v) if v not in (None, "") else float("nan")
        except ValueError:
            return float("nan")

    return {k: np.array([num(r.get(k)) for r in rows]) for k in rows[0]}


def _truncate_after(path: Path, step: int) -> None:
    """Drop rows whose ``step`` is greater than ``step`` (the tail of an interrupted run)."""
    if not path.is_file():
        return
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, body = rows[0], [r for r in rows[1:] if r and int(float(r[0])) <= step]
    from handmesh.utils.atomic import atomic_open

    with atomic_open(path, "w") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(body)


class _Csv:
    """Append rows to a CSV file with a fixed header (written when the file is new)."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = path
        self.columns = columns
        if path.is_file():
            with open(path, newline="", encoding="utf-8") as f:
                header = next(csv.reader(f), None)
            if header and header != columns:
                # A resumed run with other loss terms: keep the old file, start a new one beside it.
                path.rename(path.with_suffix(".old.csv"))
        if not path.is_file():
            with open(path, "w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerow(columns)

    def write(self, row: dict[str, Any]) -> None:
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            csv.writer(f).writerow([_fmt(row.get(c)) for c in self.columns])


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


class RunLogger:
    """CSV + TensorBoard logging for rank 0 (every method is a no-op elsewhere).

    Args:
        out_dir: the run folder.
        loss_terms: names of the active loss terms (CSV columns).
        enabled: whether this process logs (rank 0). Default: True.
        resume_step: the step a resumed run continues from (older rows after it are dropped). Default: None.
        tensorboard: write TensorBoard events when the package is installed. Default: True.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        loss_terms: list[str],
        *,
        enabled: bool = True,
        resume_step: int | None = None,
        tensorboard: bool = True,
    ) -> None:
        self.enabled = enabled
        self.out_dir = Path(out_dir)
        self.writer: Any = None
        if not enabled:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if resume_step is not None:
            for name in (TRAIN_LOG, VAL_LOG):
                _truncate_after(self.out_dir / name, resume_step)
        cols = [
            "step",
            "epoch",
            "loss",
            *loss_terms,
            "lr",
            "grad_norm",
            "data_wait",
            "step_time_s",
            "images_per_s",
            "bad_steps",
        ]
        self.train_csv = _Csv(self.out_dir / TRAIN_LOG, cols)
        self.val_csv = _Csv(self.out_dir / VAL_LOG, ["step", "pa_mpjpe_mm", "pa_mpvpe_mm", "num_samples"])
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is an optional extra (handmesh[train])
                logger.warning("tensorboard is not installed: logging to CSV only (pip install 'handmesh[train]')")
            else:
                purge = None if resume_step is None else resume_step + 1
                self.writer = SummaryWriter(str(self.out_dir / "tb"), purge_step=purge)

    def train_row(self, row: dict[str, Any]) -> None:
        """Log a window of training steps (keys as the CSV columns)."""
        if not self.enabled:
            return
        self.train_csv.write(row)
        if self.writer is not None:
            step = int(row["step"])
            for k, v in row.items():
                if k in ("step", "epoch") or v is None:
                    continue
                self.writer.add_scalar(f"train/{k}", float(v), step)

    def val_row(self, step: int, metrics: dict[str, float | None], num_samples: int) -> None:
        """Log a validation result."""
        if not self.enabled:
            return
        self.val_csv.write({"step": step, **metrics, "num_samples": num_samples})
        if self.writer is not None:
            for k, v in metrics.items():
                if v is not None:
                    self.writer.add_scalar(f"val/{k}", float(v), step)

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        """Log an ``(H, W, 3)`` uint8 RGB image."""
        if self.enabled and self.writer is not None:
            self.writer.add_image(tag, image, step, dataformats="HWC")

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def plot_training_curve(
    run_dir: str | os.PathLike, out_png: str | os.PathLike | None = None, title: str | None = None
) -> Path | None:
    """Plot the training loss and the validation PA-MPJPE of a run against steps.

    Args:
        run_dir: the run folder (``train_log.csv``, ``val_log.csv``).
        out_png: the image to write. Default: ``<run_dir>/training_curve.png``.
        title: figure title. Default: the folder name.

    Returns:
        The PNG path, or None if there is nothing to plot or matplotlib is missing.
    """
    run_dir = Path(run_dir)
    train, val = read_csv_log(run_dir / TRAIN_LOG), read_csv_log(run_dir / VAL_LOG)
    if not train:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.warning("matplotlib is not installed: no training curve (pip install 'handmesh[train]')")
        return None
    out = Path(out_png) if out_png is not None else run_dir / CURVE_PNG
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(train["step"], train["loss"], color="tab:blue", lw=1.2, label="training loss")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss", color="tab:blue")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if val and np.isfinite(val.get("pa_mpjpe_mm", np.array([np.nan]))).any():
        ax2 = ax.twinx()
        ax2.plot(val["step"], val["pa_mpjpe_mm"], "o-", color="tab:red", lw=1.5, ms=4, label="val PA-MPJPE")
        if np.isfinite(val.get("pa_mpvpe_mm", np.array([np.nan]))).any():
            ax2.plot(val["step"], val["pa_mpvpe_mm"], "s--", color="tab:orange", lw=1.2, ms=3, label="val PA-MPVPE")
        ax2.set_ylabel("validation error (mm)", color="tab:red")
        ax2.set_ylim(bottom=0)
        lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        ax.legend(lines, [str(line.get_label()) for line in lines], loc="lower left")
    ax.set_title(title or run_dir.name)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    from handmesh.utils.atomic import atomic_open

    with atomic_open(out, "wb") as f:
        fig.savefig(f, format="png")
    plt.close(fig)
    return out
