"""Execution options: channels-last memory, bfloat16 autocast (CPU here, CUDA under the gpu marker), fp16 with a
gradient scaler (CUDA), torch.compile (slow)."""

from __future__ import annotations

import pytest
import torch

from handmesh.train import train


def _finite(path) -> bool:
    ckpt = torch.load(path, weights_only=True)
    return all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())


def test_channels_last_bf16_autocast_and_ema_on_cpu(make_config) -> None:
    cfg = make_config(
        "optim.max_steps=2", "train.channels_last=true", "train.amp=bf16", "optim.ema_decay=0.99", "train.val_every=2"
    )
    result = train(cfg, progress=False)
    assert result.step == 2 and result.bad_steps == 0 and result.val is not None
    assert _finite(result.last_checkpoint)


def test_the_spatial_head_trains_validates_and_resumes_under_bf16(make_config) -> None:
    """model.head=spatial through the whole trainer: bf16 autocast, validation, a checkpoint that reloads."""
    from handmesh.network import load_network

    cfg = make_config("model.head=spatial", "optim.max_steps=3", "train.amp=bf16", "train.val_every=3")
    result = train(cfg, progress=False)
    assert result.step == 3 and result.bad_steps == 0 and result.val is not None
    assert _finite(result.last_checkpoint)
    net, _ = load_network(result.last_checkpoint)
    assert net.head_kind == "spatial"


@pytest.mark.gpu
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_on_cuda(make_config, amp: str) -> None:
    cfg = make_config(
        "optim.max_steps=3",
        "train.device=cuda",
        f"train.amp={amp}",
        "train.channels_last=true",
        "train.val_every=3",
        out=f"cuda_{amp}",
    )
    result = train(cfg, progress=False)
    assert result.step == 3 and _finite(result.last_checkpoint)
    ckpt = torch.load(result.last_checkpoint, weights_only=True)
    assert bool(ckpt["scaler"]) == (amp == "fp16")  # the gradient scaler only exists for fp16


_COMPILE_CHILD = """
import sys
from handmesh.config import load_config
from handmesh.train import train
cfg = load_config(sys.argv[1])
result = train(cfg, progress=False)
print("STEP", result.step, result.last_checkpoint)
"""


@pytest.mark.slow
def test_torch_compile(make_config, tmp_path) -> None:
    # Compiled code runs in a child process: a crash inside the compiler's generated code then fails this test
    # with its exit status instead of taking the whole test session down.
    import subprocess
    import sys

    from handmesh.config import save_config

    cfg = make_config("optim.max_steps=2", "train.compile=true")
    cfg_path = tmp_path / "compile.yaml"
    save_config(cfg, cfg_path)
    proc = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", _COMPILE_CHILD, str(cfg_path)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, (
        f"training with torch.compile exited with status {proc.returncode}"
        f" (negative: killed by that signal)\n{proc.stderr[-3000:]}"
    )
    assert "STEP 2 " in proc.stdout
    assert _finite(cfg.train.output_dir + "/last.pt")
