"""Deterministic, resumable data order for training.

Everything random about a batch is a function of ``(seed, epoch, sample index)``:

* :class:`EpochSampler` shuffles with a generator seeded by ``(seed, epoch)``, gives process ``rank`` every
  ``world_size``-th item of that order (equal batch counts on every process), and can start an epoch at a batch
  offset. It yields ``(epoch, item)`` pairs, so the dataset sees the epoch without any shared state.
* :class:`SeededDataset` draws each sample's augmentation from ``np.random.default_rng((seed, epoch, item))``.

So the same run gives the same batches whatever the number of loader workers, and a run resumed at step k skips
exactly the consumed batches of its epoch and sees the same batches as the uninterrupted run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from handmesh.errors import ConfigError

__all__ = ["EpochSampler", "SeededDataset", "data_hand_model", "build_train_loader", "worker_init"]

logger = logging.getLogger(__name__)


class EpochSampler(Sampler):
    """Shuffled (or ordered) items of one epoch for one process, as ``(epoch, item)`` pairs.

    Args:
        num_items: dataset length N.
        batch_size: batch size per process B.
        seed: run seed. Default: 0.
        rank: this process. Default: 0.
        world_size: number of processes P. Default: 1.
        shuffle: shuffle per epoch. Default: True.

    Every epoch has ``N // (P * B)`` batches per process (the remainder is dropped, a different one each epoch).
    """

    def __init__(
        self,
        num_items: int,
        batch_size: int,
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"data.batch_size = {batch_size}: expected >= 1")
        self.num_items = int(num_items)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.shuffle = bool(shuffle)
        self.batches_per_epoch = self.num_items // (self.world_size * self.batch_size)
        if self.batches_per_epoch == 0:
            raise ConfigError(
                f"data.batch_size = {batch_size} x {world_size} process(es) = {batch_size * world_size} is more than "
                f"the {num_items} training images: lower data.batch_size or add data"
            )
        self.epoch = 0
        self.start_batch = 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch to iterate, starting at batch ``start_batch`` of it (to resume mid-epoch)."""
        if not 0 <= start_batch <= self.batches_per_epoch:
            raise ValueError(f"start_batch {start_batch} outside 0..{self.batches_per_epoch}")
        self.epoch = int(epoch)
        self.start_batch = int(start_batch)

    def epoch_items(self, epoch: int) -> np.ndarray:
        """This process's items of ``epoch`` in order: ``(batches_per_epoch * batch_size,)`` int64."""
        if self.shuffle:
            order = np.random.default_rng([self.seed, int(epoch)]).permutation(self.num_items)
        else:
            order = np.arange(self.num_items)
        mine = order[self.rank :: self.world_size]
        return mine[: self.batches_per_epoch * self.batch_size].astype(np.int64)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        items = self.epoch_items(self.epoch)[self.start_batch * self.batch_size :]
        return iter([(self.epoch, int(i)) for i in items])

    def __len__(self) -> int:
        return (self.batches_per_epoch - self.start_batch) * self.batch_size


class SeededDataset(Dataset):
    """Wrap a :class:`~handmesh.datasets.FreiHANDDataset` so that item ``(epoch, i)`` is augmented with a generator
    seeded by ``(seed, epoch, i)``.

    Args:
        base: the dataset (augmentation settings live there; ``base.augment = None`` means none).
        seed: run seed.
    """

    def __init__(self, base: Any, seed: int) -> None:
        self.base = base
        self.seed = int(seed)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, torch.Tensor]:
        epoch, i = key if isinstance(key, tuple) else (0, key)
        rng = np.random.default_rng([self.seed, int(epoch), int(i)]) if self.base.augment is not None else None
        return self.base.get_sample(int(i), rng)


def worker_init(worker_id: int) -> None:
    """DataLoader worker set-up: one OpenCV thread (the worker processes are the parallelism)."""
    import cv2

    cv2.setNumThreads(1)


def build_train_loader(
    dataset: SeededDataset,
    sampler: EpochSampler,
    *,
    num_workers: int,
    pin_memory: bool = False,
) -> DataLoader:
    """A DataLoader over ``sampler`` that leaves the global torch RNG alone.

    The loader gets its own generator: otherwise creating an iterator (every epoch, and at a resume point) would
    draw from the global RNG and shift dropout and drop-path masks between an interrupted and an uninterrupted run.
    """
    return DataLoader(
        dataset,
        batch_size=sampler.batch_size,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory,
        drop_last=True,
        persistent_workers=num_workers > 0,
        worker_init_fn=worker_init if num_workers > 0 else None,
        generator=torch.Generator().manual_seed(sampler.seed),
        prefetch_factor=4 if num_workers > 0 else None,
    )


def data_hand_model(root: str | Path, setting: str = "auto") -> str:
    """The hand model whose parameter space a dataset's annotations are in.

    Args:
        root: the dataset folder.
        setting: ``data.hand_model``: ``"open"``, ``"mano"``, or ``"auto"`` (``synth_config.json`` of a synthetic
            set names the model it was rendered with; otherwise the data is real FreiHAND, annotated with MANO).

    Raises:
        ConfigError: an unknown setting.
    """
    if setting in ("open", "mano"):
        return setting
    if setting != "auto":
        raise ConfigError(f"data.hand_model = {setting!r}: expected auto, open or mano")
    path = Path(root) / "synth_config.json"
    if path.is_file():
        try:
            name = json.loads(path.read_text())["config"]["hand_model"]
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("%s: cannot read the hand model; assuming MANO annotations", path)
            return "mano"
        return str(name)
    return "mano"
