"""Kill-and-resume: N steps straight equal N/2 steps, an interruption, and N/2 resumed steps, bit for bit on CPU
(with augmentation, dropout, drop-path and, where asked, EMA all drawing random numbers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from handmesh.config import save_config
from handmesh.train import LAST_CHECKPOINT, TrainHooks, read_csv_log, train


class Killed(Exception):
    """Stands in for the process dying right after a step."""


def _kill_at(step: int) -> TrainHooks:
    def on_step_end(s: int) -> None:
        if s == step:
            raise Killed

    return TrainHooks(on_step_end=on_step_end)


def _assert_same_state(a: dict, b: dict, what: str) -> None:
    assert a.keys() == b.keys(), what
    for k in a:
        assert torch.equal(a[k], b[k]), f"{what}: {k} differs"


RANDOM_EVERYWHERE = (
    "data.augment.enabled=true",
    "model.head_dropout=0.2",
    "model.drop_path_rate=0.1",
    "optim.max_steps=8",
    "train.ckpt_every=4",
    "train.val_every=4",
    "train.log_every=2",
)


def test_interrupted_run_resumes_to_identical_weights_with_ema(make_config) -> None:
    ema = 0.9
    extra = (f"optim.ema_decay={ema}",)
    straight = train(make_config(*RANDOM_EVERYWHERE, *extra, out="straight"), progress=False)
    cfg = make_config(*RANDOM_EVERYWHERE, *extra, out="broken")
    with pytest.raises(Killed):
        train(cfg, hooks=_kill_at(4), progress=False)
    ckpt_path = Path(cfg.train.output_dir) / LAST_CHECKPOINT
    assert torch.load(ckpt_path, weights_only=True)["trainer"]["step"] == 4
    resumed = train(cfg, resume=ckpt_path, progress=False)
    assert resumed.step == straight.step == 8

    a = torch.load(straight.last_checkpoint, weights_only=True)
    b = torch.load(resumed.last_checkpoint, weights_only=True)
    _assert_same_state(a["model"], b["model"], "model")
    _assert_same_state(a["ema"], b["ema"], "ema")
    assert a["trainer"]["ema_updates"] == b["trainer"]["ema_updates"] == 8
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True):
        assert torch.equal(sa["exp_avg"], sb["exp_avg"]) and torch.equal(sa["exp_avg_sq"], sb["exp_avg_sq"])
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"] == 8
    # The logs read as one run: no duplicated or missing steps, same numbers.
    la, lb = (
        read_csv_log(Path(straight.output_dir) / "train_log.csv"),
        read_csv_log(Path(resumed.output_dir) / "train_log.csv"),
    )
    assert lb["step"].tolist() == la["step"].tolist() == [2, 4, 6, 8]
    torch.testing.assert_close(torch.tensor(lb["loss"]), torch.tensor(la["loss"]), rtol=1e-5, atol=0)
    va = read_csv_log(Path(straight.output_dir) / "val_log.csv")
    vb = read_csv_log(Path(resumed.output_dir) / "val_log.csv")
    assert vb["step"].tolist() == va["step"].tolist() == [4, 8]
    assert vb["pa_mpjpe_mm"].tolist() == va["pa_mpjpe_mm"].tolist()


def test_resume_mid_epoch_without_ema_skips_exactly_the_consumed_batches(make_config) -> None:
    # 12 training images / batch 4 = 3 batches per epoch: stopping at step 4 lands inside epoch 1.
    overrides = ("data.augment.enabled=true", "model.head_dropout=0.2", "optim.max_steps=6", "train.ckpt_every=2")
    straight = train(make_config(*overrides, out="straight"), progress=False)
    cfg = make_config(*overrides, out="broken")
    with pytest.raises(Killed):
        train(cfg, hooks=_kill_at(4), progress=False)
    resumed = train(cfg, resume=Path(cfg.train.output_dir) / LAST_CHECKPOINT, progress=False)
    a = torch.load(straight.last_checkpoint, weights_only=True)
    b = torch.load(resumed.last_checkpoint, weights_only=True)
    _assert_same_state(a["model"], b["model"], "model")
    assert a["ema"] is None and b["ema"] is None


@pytest.mark.slow
def test_sigkill_then_resume_from_the_command_line(make_config, tmp_path: Path) -> None:
    """A real process killed with SIGKILL between checkpoints, resumed with ``handmesh-train --resume``."""
    overrides = ("data.augment.enabled=true", "optim.max_steps=60", "train.ckpt_every=5")
    straight = train(make_config(*overrides, out="straight"), progress=False)
    cfg = make_config(*overrides, out="killed")
    cfg_path = tmp_path / "killed.yaml"
    save_config(cfg, cfg_path)
    cmd = [sys.executable, "-m", "handmesh.cli.train", "--config", str(cfg_path), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = Path(cfg.train.output_dir) / LAST_CHECKPOINT
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if last.exists() and torch.load(last, weights_only=True)["trainer"]["step"] >= 15:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert torch.load(last, weights_only=True)["trainer"]["step"] < 60
    rc = subprocess.run([*cmd, "--resume"], capture_output=True, text=True)
    assert rc.returncode == 0, rc.stderr
    a = torch.load(straight.last_checkpoint, weights_only=True)["model"]
    b = torch.load(last, weights_only=True)["model"]
    _assert_same_state(a, b, "model")


def test_sigint_stops_cleanly_with_a_checkpoint(make_config) -> None:
    cfg = make_config("optim.max_steps=50")

    def on_step_end(step: int) -> None:
        if step == 3:
            os.kill(os.getpid(), signal.SIGINT)

    result = train(cfg, hooks=TrainHooks(on_step_end=on_step_end), progress=False)
    assert result.stopped and result.step == 3
    assert torch.load(result.last_checkpoint, weights_only=True)["trainer"]["step"] == 3
