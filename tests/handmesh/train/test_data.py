"""Deterministic, resumable data order: per-(seed, epoch) shuffles split across ranks, batches that do not depend
on the number of loader workers, and which hand model a dataset's annotations belong to."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from handmesh.config import load_config
from handmesh.datasets import build_freihand_dataset
from handmesh.errors import ConfigError
from handmesh.train import EpochSampler, SeededDataset, data_hand_model
from handmesh.train.data import build_train_loader


def test_epoch_order_is_a_function_of_seed_and_epoch() -> None:
    a = EpochSampler(50, 4, seed=3)
    b = EpochSampler(50, 4, seed=3)
    assert np.array_equal(a.epoch_items(2), b.epoch_items(2))
    assert not np.array_equal(a.epoch_items(2), a.epoch_items(3))
    assert not np.array_equal(a.epoch_items(2), EpochSampler(50, 4, seed=4).epoch_items(2))
    assert a.batches_per_epoch == 12 and len(a.epoch_items(0)) == 48


def test_ranks_get_disjoint_equal_shares() -> None:
    ranks = [EpochSampler(50, 4, seed=0, rank=r, world_size=3) for r in range(3)]
    items = [r.epoch_items(5) for r in ranks]
    assert {len(i) for i in items} == {16}  # 50 // (3 * 4) = 4 batches each
    allocated = np.concatenate(items)
    assert len(np.unique(allocated)) == len(allocated)


def test_starting_mid_epoch_yields_the_rest_of_that_epoch() -> None:
    s = EpochSampler(40, 4, seed=1)
    s.set_epoch(2)
    full = list(s)
    s.set_epoch(2, start_batch=3)
    rest = list(s)
    assert rest == full[12:] and len(s) == len(rest)
    assert all(e == 2 for e, _ in rest)


def test_too_few_images_for_the_batch_is_named() -> None:
    with pytest.raises(ConfigError, match="data.batch_size = 8 x 2 process"):
        EpochSampler(10, 8, world_size=2)


def test_batches_do_not_depend_on_the_worker_count(tiny_data: Path) -> None:
    cfg = load_config(None, [f"data.root={tiny_data}", "data.versions=[gs]", "data.val_fraction=0.25"])
    ds = SeededDataset(build_freihand_dataset(cfg.data, "train", 64), seed=5)  # augmented
    assert ds.base.augment is not None

    def batches(workers: int) -> list[dict[str, torch.Tensor]]:
        sampler = EpochSampler(len(ds), 4, seed=5)
        sampler.set_epoch(1, start_batch=1)
        return list(build_train_loader(ds, sampler, num_workers=workers))

    one, two = batches(0), batches(2)
    assert len(one) == len(two) == 2
    for a, b in zip(one, two, strict=True):
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["xyz"], b["xyz"])
    # Augmentation differs between epochs and items, and repeats for the same (epoch, item).
    x = ds[(1, 0)]["image"]
    assert torch.equal(x, ds[(1, 0)]["image"]) and not torch.equal(x, ds[(2, 0)]["image"])


def test_loader_leaves_the_global_rng_alone(tiny_data: Path) -> None:
    cfg = load_config(None, [f"data.root={tiny_data}", "data.versions=[gs]", "data.augment.enabled=false"])
    ds = SeededDataset(build_freihand_dataset(cfg.data, "train", 64), seed=0)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    next(iter(build_train_loader(ds, EpochSampler(len(ds), 4), num_workers=0)))
    assert torch.equal(torch.rand(3), expected)


def test_data_hand_model(tmp_path: Path, tiny_data: Path) -> None:
    assert data_hand_model(tiny_data) == "mano"  # from synth_config.json (rendered with the stand-in MANO)
    synth = tmp_path / "synth"
    synth.mkdir()
    (synth / "synth_config.json").write_text(json.dumps({"config": {"hand_model": "open"}}))
    assert data_hand_model(synth) == "open"
    assert data_hand_model(tmp_path / "freihand") == "mano"  # real FreiHAND
    assert data_hand_model(synth, "mano") == "mano"
    with pytest.raises(ConfigError, match="data.hand_model"):
        data_hand_model(synth, "smpl")
