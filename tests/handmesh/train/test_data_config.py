"""The data section reaches the dataset: image versions (None = all on disk) and the validation carve-out seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handmesh.config import load_config
from handmesh.datasets import build_freihand_dataset
from handmesh.datasets.freihand import validation_indices
from handmesh.errors import HandmeshError


def test_default_versions_use_what_is_on_disk(tiny_data: Path) -> None:
    # The synthetic set holds one version (gs); the schema default must not ask for the other three.
    cfg = load_config(None, [f"data.root={tiny_data}"])
    assert cfg.data.versions is None
    ds = build_freihand_dataset(cfg.data, "train", 64, augment=False)
    assert ds.versions == ("gs",)


def test_explicit_versions_are_passed_and_checked(tiny_data: Path) -> None:
    cfg = load_config(None, [f"data.root={tiny_data}", "data.versions=[gs]"])
    assert build_freihand_dataset(cfg.data, "train", 64, augment=False).versions == ("gs",)
    cfg = load_config(None, [f"data.root={tiny_data}", "data.versions=[gs, hom]"])
    with pytest.raises(HandmeshError, match="hom"):
        build_freihand_dataset(cfg.data, "train", 64, augment=False)


def test_val_seed_selects_the_carve_out(tiny_data: Path) -> None:
    splits = {}
    for seed in (0, 7):
        cfg = load_config(None, [f"data.root={tiny_data}", "data.val_fraction=0.25", f"data.val_seed={seed}"])
        val = build_freihand_dataset(cfg.data, "val", 64, augment=False)
        train = build_freihand_dataset(cfg.data, "train", 64, augment=False)
        n = len(val.annotation_indices) + len(train.annotation_indices)
        np.testing.assert_array_equal(val.annotation_indices, validation_indices(n, 0.25, seed))
        assert not set(val.annotation_indices) & set(train.annotation_indices)
        splits[seed] = tuple(val.annotation_indices)
    assert splits[0] != splits[7]
