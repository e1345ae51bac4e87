"""Multi-process training on one machine without ``torchrun``: ``launch_local(cfg, nprocs)``.

Each process gets the environment ``torchrun`` would give it (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``) and runs :func:`~handmesh.train.train`; on CPU they talk over gloo, on GPUs over
NCCL (one GPU per process). ``torchrun --nproc_per_node=N -m handmesh.cli.train ...`` does the same from a shell.
"""

from __future__ import annotations

import os
import socket
from typing import Any

__all__ = ["launch_local", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for the process group's rendezvous)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(
    rank: int, world_size: int, port: int, cfg_dict: dict[str, Any], resume: str | None, progress: bool
) -> None:
    from handmesh.config import config_from_dict
    from handmesh.train.trainer import train

    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank)
    )
    train(config_from_dict(cfg_dict), resume=resume, progress=progress and rank == 0)


def launch_local(
    cfg: Any, nprocs: int, *, resume: str | os.PathLike | None = None, port: int | None = None, progress: bool = False
) -> None:
    """Train ``cfg`` with ``nprocs`` processes on this machine (``torch.multiprocessing.spawn``).

    Args:
        cfg: the run config (:class:`~handmesh.config.Config`).
        nprocs: number of processes (each with ``data.batch_size`` images per step).
        resume: a checkpoint to resume from. Default: none.
        port: rendezvous port. Default: a free one.
        progress: show rank 0's progress bar. Default: False.

    Raises:
        torch.multiprocessing.ProcessRaisedException: a process failed (its traceback is in the message).
    """
    import torch.multiprocessing as mp

    from handmesh.config import config_to_dict

    mp.spawn(
        _worker,
        args=(
            int(nprocs),
            port or free_port(),
            config_to_dict(cfg),
            str(resume) if resume is not None else None,
            progress,
        ),
        nprocs=int(nprocs),
        join=True,
    )
