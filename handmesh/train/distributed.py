"""Process groups for multi-GPU (and multi-process CPU) training under ``torchrun``.

``torchrun --nproc_per_node=N`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; :func:`setup_distributed` reads
them, joins the process group (NCCL on CUDA, gloo on CPU) and picks this process's device. Without them the run is
a single process and nothing is initialised.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from handmesh.errors import BackendUnavailableError, ConfigError

__all__ = ["DistInfo", "setup_distributed", "cleanup_distributed", "all_reduce_sum", "all_min", "resolve_train_device"]


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands.

    Attributes:
        rank: global rank. world_size: number of processes. local_rank: rank on this machine.
        enabled: whether a process group is in use (``world_size > 1``).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    enabled: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs and writes checkpoints."""
        return self.rank == 0


def resolve_train_device(setting: str, local_rank: int = 0) -> torch.device:
    """``train.device`` -> a device: ``auto`` is ``cuda:<local_rank>`` when CUDA exists, else MPS, else CPU.

    Raises:
        BackendUnavailableError: CUDA or MPS asked for but absent.
        ConfigError: an unknown device name.
    """
    if setting == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(setting)
    except RuntimeError as e:
        raise ConfigError(f"train.device = {setting!r}: expected auto, cpu, cuda, cuda:N or mps") from e
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise BackendUnavailableError(f"train.device = {setting!r}, but CUDA is not available on this machine")
        if dev.index is None:
            dev = torch.device("cuda", local_rank)
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise BackendUnavailableError(f"train.device = {setting!r}, but MPS is not available on this machine")
    return dev


def setup_distributed(device_setting: str = "auto") -> tuple[DistInfo, torch.device]:
    """Join the ``torchrun`` process group if there is one, and choose this process's device.

    Args:
        device_setting: ``train.device``.

    Returns:
        ``(DistInfo, device)``.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_train_device(device_setting, local_rank)
    if world_size <= 1:
        return DistInfo(), device
    if device.type == "mps":
        raise ConfigError("multi-process training supports CUDA (NCCL) and CPU (gloo), not MPS")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, enabled=True), device


def cleanup_distributed(info: DistInfo) -> None:
    """Leave the process group (if this module joined one)."""
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum a tensor over processes (identity for a single process); returns a new tensor."""
    out = values.clone()
    if info.enabled:
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def all_min(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """Logical AND of a flag over processes (every process must take the same branch around a collective)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())
