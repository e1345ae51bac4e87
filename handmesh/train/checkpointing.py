"""Training checkpoints: writing them (atomically, rank 0) and reading them back to resume.

A training checkpoint is an inference checkpoint (:mod:`handmesh.network.checkpoint`: format, info, config, model,
ema) plus everything needed to continue exactly: optimizer, scheduler, gradient scaler, the RNG states of every
process, and the trainer's counters. All of it is plain data and tensors (``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from handmesh.errors import CheckpointError
from handmesh.network.checkpoint import make_checkpoint, read_checkpoint

__all__ = [
    "TrainerCounters",
    "build_training_checkpoint",
    "save_checkpoint",
    "read_training_checkpoint",
    "check_resume_config",
]


@dataclass
class TrainerCounters:
    """The trainer's own state.

    Attributes:
        step: optimizer iterations done (batches consumed, skipped ones included).
        epoch: epoch of the next batch.
        bad_steps: non-finite losses skipped so far. consecutive_bad: the current run of them.
        best_pa_mpjpe_mm: best validation PA-MPJPE so far (inf before the first validation).
        ema_updates: EMA updates so far.
        world_size: processes of the run that wrote the checkpoint.
        batches_per_epoch: batches per epoch per process of that run.
    """

    step: int = 0
    epoch: int = 0
    bad_steps: int = 0
    consecutive_bad: int = 0
    best_pa_mpjpe_mm: float = float("inf")
    ema_updates: int = 0
    world_size: int = 1
    batches_per_epoch: int = 0


def build_training_checkpoint(
    net: Any,
    config: dict[str, Any],
    counters: TrainerCounters,
    *,
    ema_state: dict[str, torch.Tensor] | None,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    rng_states: list[dict[str, Any]],
) -> dict[str, Any]:
    """Assemble the checkpoint dict (see the module docstring)."""
    ckpt = make_checkpoint(net, config, ema_state=ema_state, step=counters.step, epoch=counters.epoch)
    ckpt.update(
        {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "rng": rng_states,
            "trainer": asdict(counters),
        }
    )
    return ckpt


def save_checkpoint(path: str | os.PathLike, ckpt: dict[str, Any]) -> Path:
    """Write ``ckpt`` atomically (temporary file in the same folder, fsync, rename): a reader or a resumed run never
    sees half a file, even if the machine dies while writing."""
    from handmesh.utils.atomic import atomic_torch_save

    atomic_torch_save(path, ckpt)
    return Path(path)


def read_training_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint to resume from.

    Raises:
        MissingFileError: no such file.
        CheckpointError: corrupt, not a handmesh checkpoint, or an inference-only checkpoint (no training state).
    """
    ckpt = read_checkpoint(path)
    missing = [k for k in ("optimizer", "scheduler", "trainer", "rng") if k not in ckpt]
    if missing:
        raise CheckpointError(
            f"checkpoint {path} holds no training state ({', '.join(missing)} missing): it is an inference "
            "checkpoint; to fine-tune from it, set model.pretrained to it instead of resuming"
        )
    return ckpt


def check_resume_config(ckpt: dict[str, Any], model_cfg: Any, path: str | os.PathLike) -> None:
    """Refuse to resume a checkpoint into a network of another variant or hand model.

    Raises:
        CheckpointError: naming both variants (or hand models) and how to resume instead.
    """
    info = ckpt["info"]
    from fastvit_backbone import get_variant

    wanted = get_variant(model_cfg.variant).name
    if info.get("variant") != wanted:
        raise CheckpointError(
            f"checkpoint {path} is a {info.get('variant')} network but the config asks for {wanted}: resume with "
            "the config the run was started with (leave out --config to use the one inside the checkpoint), or "
            f"start a new run"
        )
    if info.get("hand_model") != model_cfg.hand_model:
        raise CheckpointError(
            f"checkpoint {path} was trained with the {info.get('hand_model')!r} hand model but the config says "
            f"model.hand_model={model_cfg.hand_model!r}"
        )
    if int(info.get("input_size", -1)) != int(model_cfg.input_size):
        raise CheckpointError(
            f"checkpoint {path} was trained at input size {info.get('input_size')} but the config says "
            f"model.input_size={model_cfg.input_size}"
        )
