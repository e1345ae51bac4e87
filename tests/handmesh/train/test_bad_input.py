"""User mistakes and bad numbers give clear errors: unknown config keys, missing data or MANO files, NaN losses,
checkpoints of another variant, corrupt or inference-only checkpoints, a run folder that already holds a run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from handmesh.cli.train import main
from handmesh.errors import CheckpointError, ConfigError, MissingFileError
from handmesh.train import LAST_CHECKPOINT, TrainHooks, TrainingDivergedError, train


def test_unknown_config_key_names_the_closest_one(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("optim:\n  lr: 0.001\n")
    assert main(["--config", str(cfg), "optim.warmup=100", "--print-config"]) == 2
    err = capsys.readouterr().err
    assert "unknown config key 'optim.warmup'" in err and "did you mean 'optim.warmup_steps'" in err
    cfg.write_text("train:\n  ckpt_evry: 10\n")
    assert main(["--config", str(cfg), "--print-config"]) == 2
    assert "did you mean 'train.ckpt_every'" in capsys.readouterr().err


def test_missing_dataset_names_the_folder_and_its_layout(make_config, tmp_path: Path) -> None:
    cfg = make_config(f"data.root={tmp_path / 'no_freihand_here'}")
    with pytest.raises(MissingFileError, match=r"(?s)no_freihand_here does not exist.*training_K\.json.*training/rgb"):
        train(cfg, progress=False)


def test_missing_mano_names_the_file_and_where_it_goes(make_config, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HANDMESH_MANO_DIR", str(tmp_path / "nothing"))
    monkeypatch.chdir(tmp_path)
    cfg = make_config("model.mano_dir=null")
    with pytest.raises(MissingFileError, match=r"(?s)MANO_RIGHT\.pkl not found.*mano\.is\.tue\.mpg\.de.*data/mano"):
        train(cfg, progress=False)


def test_nan_losses_are_skipped_and_counted(make_config) -> None:
    seen: list[int] = []

    def on_loss(step: int, loss: torch.Tensor) -> torch.Tensor:
        seen.append(step)
        return loss * float("nan") if step in (1, 2, 4) else loss

    result = train(
        make_config("optim.max_steps=6", "train.max_bad_steps=3"), hooks=TrainHooks(on_loss=on_loss), progress=False
    )
    assert seen == list(range(6)) and result.step == 6 and result.bad_steps == 3
    ckpt = torch.load(result.last_checkpoint, weights_only=True)
    assert ckpt["trainer"]["bad_steps"] == 3 and ckpt["trainer"]["consecutive_bad"] == 0
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())
    # A skipped step leaves the weights alone: Adam's step count only counts the three good steps.
    steps = {float(s["step"]) for s in ckpt["optimizer"]["state"].values()}
    assert steps == {3.0}


def test_too_many_nan_losses_in_a_row_stop_with_a_clear_message(make_config) -> None:
    hooks = TrainHooks(on_loss=lambda step, loss: loss * float("inf") if step >= 2 else loss)
    with pytest.raises(TrainingDivergedError, match=r"NaN or inf for 3 steps in a row \(steps 2-4.*optim\.lr"):
        train(make_config("optim.max_steps=10", "train.max_bad_steps=3"), hooks=hooks, progress=False)


def test_resume_into_another_variant_is_refused(make_config) -> None:
    first = train(make_config("optim.max_steps=1"), progress=False)
    cfg = make_config("optim.max_steps=2", "model.variant=fastvit_sa12", out="other")
    with pytest.raises(CheckpointError, match=r"last\.pt is a fastvit_t8 network but the config asks for fastvit_sa12"):
        train(cfg, resume=first.last_checkpoint, progress=False)
    # Another head width is another network too: the message says what differs.
    cfg = make_config("optim.max_steps=2", "model.head_hidden=32", out="other2")
    with pytest.raises(CheckpointError, match=r"last\.pt does not fit.*another shape.*head_hidden"):
        train(cfg, resume=first.last_checkpoint, progress=False)


def test_corrupt_checkpoint_is_named(make_config, tmp_path: Path) -> None:
    first = train(make_config("optim.max_steps=1"), progress=False)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(Path(first.last_checkpoint).read_bytes()[:5000])  # a copy cut short
    with pytest.raises(CheckpointError, match=r"cannot read checkpoint .*broken\.pt"):
        train(make_config(out="again"), resume=broken, progress=False)
    with pytest.raises(MissingFileError, match=r"nothing\.pt does not exist"):
        train(make_config(out="again"), resume=tmp_path / "nothing.pt", progress=False)


def test_inference_checkpoint_cannot_be_resumed(make_config, tmp_path: Path) -> None:
    from handmesh.network import save_inference_checkpoint

    first = train(make_config("optim.max_steps=1"), progress=False)
    small = save_inference_checkpoint(first.last_checkpoint, tmp_path / "small.pt")
    with pytest.raises(CheckpointError, match="no training state.*model.pretrained"):
        train(make_config(out="again"), resume=small, progress=False)


def test_run_folder_with_a_run_needs_resume_or_overwrite(make_config) -> None:
    cfg = make_config("optim.max_steps=1")
    train(cfg, progress=False)
    with pytest.raises(ConfigError, match="already holds a run.*--resume.*--overwrite"):
        train(cfg, progress=False)
    assert train(cfg, progress=False, overwrite=True).step == 1
    assert (Path(cfg.train.output_dir) / LAST_CHECKPOINT).exists()


def test_run_folder_with_only_a_best_checkpoint_is_not_overwritten(make_config) -> None:
    """A run killed before its first last.pt leaves best.pt and logs; a new run once overwrote them silently."""
    cfg = make_config("optim.max_steps=1")
    out = Path(cfg.train.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "best.pt").write_bytes(b"the best network so far")
    with pytest.raises(ConfigError, match=r"already holds a run \(best\.pt\)"):
        train(cfg, progress=False)
    assert (out / "best.pt").read_bytes() == b"the best network so far"


def test_impossible_settings_are_named(make_config) -> None:
    with pytest.raises(ConfigError, match="train.amp = fp16 needs a CUDA device"):
        train(make_config("train.amp=fp16", "train.device=cpu"), progress=False)
    with pytest.raises(ConfigError, match="data.batch_size = 64"):
        train(make_config("data.batch_size=64"), progress=False)


def test_resume_clears_what_a_killed_checkpoint_write_left(make_config) -> None:
    """kill -9 during a checkpoint write leaves .last.pt.<random>.tmp; the next run in the folder removes it."""
    cfg = make_config("optim.max_steps=1")
    first = train(cfg, progress=False)
    out = Path(cfg.train.output_dir)
    stale = [out / ".last.pt.k1ll3d.tmp", out / ".best.pt.x.tmp"]
    for p in stale:
        p.write_bytes(b"half a checkpoint")
    keep = out / ".notes.tmp"
    keep.write_bytes(b"not ours")
    train(make_config("optim.max_steps=2"), resume=first.last_checkpoint, progress=False)
    assert not any(p.exists() for p in stale) and keep.exists()


def test_vertex_losses_without_vertex_annotations_are_named(make_config, tiny_data: Path, tmp_path: Path) -> None:
    """A recipe that asks for the vertex losses on data without training_verts.json stops and names the file, rather
    than training without them; with those terms at 0 it trains."""
    import shutil

    data = tmp_path / "no_verts"
    shutil.copytree(tiny_data, data)
    (data / "training_verts.json").unlink()
    for cache in data.rglob("training_verts.*"):  # a converted copy from an earlier read
        cache.unlink()
    cfg = make_config(f"data.root={data}", "loss.verts3d=1.0", "loss.edge=0.5")
    with pytest.raises(ConfigError, match=r"loss.verts3d, loss.edge need .*training_verts.json.*loss.verts3d=0"):
        train(cfg)
    result = train(make_config(f"data.root={data}", "loss.verts3d=0", "loss.edge=0", "loss.normal=0", out="ok"))
    assert result.step == result.total_steps > 0
