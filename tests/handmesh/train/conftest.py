"""Fixtures for training tests: a MANO-format stand-in model and a tiny synthetic FreiHAND-format set rendered with
it (64 px), made once per session; ``make_config`` builds small, fast run configs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from handmesh.config import Config, load_config


@pytest.fixture(scope="session")
def mano_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from handmesh.hand_model.model_file import write_model_file
    from handmesh.testing.mano_standin import standin_model_arrays

    d = tmp_path_factory.mktemp("mano")
    write_model_file(d / "MANO_RIGHT.npz", standin_model_arrays())
    return d


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory, mano_dir: Path) -> Path:
    from handmesh.synth.dataset import SynthConfig, generate_dataset

    root = tmp_path_factory.mktemp("synth") / "data"
    cfg = SynthConfig(
        num_train=16,
        num_eval=8,
        image_size=64,
        hand_model="mano",
        mano_dir=str(mano_dir),
        occluder_prob=0.0,
        chunk_size=16,
        seed=1,
    )
    generate_dataset(root, cfg, workers=1, progress=False)
    return root


@pytest.fixture
def make_config(tmp_path: Path, mano_dir: Path, tiny_data: Path) -> Callable[..., Config]:
    """``make_config(*overrides, out="run")``: a T8 / 64 px / batch 4 / no-augmentation config on ``tiny_data``."""

    def make(*overrides: str, out: str = "run") -> Config:
        base = [
            "model.variant=fastvit_t8",
            "model.input_size=64",
            "model.hand_model=mano",
            f"model.mano_dir={mano_dir}",
            "model.head_hidden=64",
            f"data.root={tiny_data}",
            "data.versions=[gs]",
            "data.batch_size=4",
            "data.num_workers=0",
            "data.val_fraction=0.25",
            "data.augment.enabled=false",
            "optim.max_steps=6",
            "optim.warmup_steps=2",
            "optim.lr=1e-3",
            "train.val_every=0",
            "train.ckpt_every=0",
            "train.log_every=1",
            "train.image_log_count=0",
            "train.num_threads=2",
            f"train.output_dir={tmp_path / out}",
        ]
        return load_config(None, base + list(overrides))

    return make
