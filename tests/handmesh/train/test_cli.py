"""``handmesh-train`` and ``handmesh-eval --checkpoint`` from the command line: config resolution, shortcuts,
resume without a path, the files a run writes, and generating synthetic data when the data folder is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from handmesh.cli.eval import main as eval_main
from handmesh.cli.train import main
from handmesh.config import load_config, save_config


def _config_file(make_config, tmp_path: Path, *overrides: str) -> tuple[Path, Path]:
    cfg = make_config(*overrides)
    path = tmp_path / "recipe.yaml"
    save_config(cfg, path)
    return path, Path(cfg.train.output_dir)


def test_print_config_applies_file_shortcuts_and_overrides(make_config, tmp_path: Path, capsys) -> None:
    path, _ = _config_file(make_config, tmp_path)
    assert (
        main(
            [
                "--config",
                str(path),
                "--data",
                "/some/where",
                "--output-dir",
                str(tmp_path / "o"),
                "optim.lr=3e-4",
                "--print-config",
            ]
        )
        == 0
    )
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["data"]["root"] == "/some/where" and cfg["train"]["output_dir"] == str(tmp_path / "o")
    assert cfg["optim"]["lr"] == pytest.approx(3e-4) and cfg["model"]["input_size"] == 64


def test_train_writes_a_complete_run_then_resumes_from_last(make_config, tmp_path: Path, capsys) -> None:
    path, out = _config_file(make_config, tmp_path, "optim.max_steps=2", "train.val_every=2", "train.image_log_count=2")
    assert main(["--config", str(path), "--quiet"]) == 0
    assert "done: step 2/2, val PA-MPJPE" in capsys.readouterr().out
    for name in (
        "config.yaml",
        "last.pt",
        "best.pt",
        "train_log.csv",
        "val_log.csv",
        "summary.json",
        "training_curve.png",
    ):
        assert (out / name).is_file(), name
    assert any((out / "tb").iterdir())
    assert load_config(out / "config.yaml") == load_config(path)
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["config"] == yaml.safe_load((out / "config.yaml").read_text())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["step"] == 2 and 0.0 <= summary["data_wait_fraction"] <= 1.0

    # --resume without a path continues from last.pt; with more steps asked for, training goes on.
    assert main(["--config", str(path), "--resume", "optim.max_steps=3", "--quiet"]) == 0
    assert torch.load(out / "last.pt", weights_only=True)["trainer"]["step"] == 3
    # The config stored in the checkpoint is enough to resume.
    assert main(["--resume", str(out / "last.pt"), "optim.max_steps=4", "--quiet"]) == 0
    assert torch.load(out / "last.pt", weights_only=True)["trainer"]["step"] == 4

    # handmesh-eval runs the checkpoint on the held-out split and scores it.
    data = load_config(path).data.root
    assert eval_main(["--checkpoint", str(out / "last.pt"), "--data", data, "--num-workers", "0", "--quiet"]) == 0
    metrics = json.loads((out / "eval_evaluation" / "metrics.json").read_text())
    assert metrics["metrics_mm"]["pa_mpjpe"] > 0
    pred = json.loads((out / "eval_evaluation" / "pred.json").read_text())
    assert len(pred[0]) == 8 and len(pred[1][0]) == 778


def test_zero_steps_saves_the_untrained_network(make_config, tmp_path: Path) -> None:
    path, out = _config_file(make_config, tmp_path, "optim.max_steps=0", "train.val_every=1")
    assert main(["--config", str(path), "--quiet"]) == 0
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["trainer"]["step"] == 0
    assert (out / "val_log.csv").read_text().splitlines()[1].startswith("0,")


def test_synthetic_data_is_generated_when_missing(make_config, tmp_path: Path) -> None:
    root = tmp_path / "generated"
    path, out = _config_file(make_config, tmp_path, f"data.root={root}", "optim.max_steps=1", "data.val_fraction=0")
    assert main(["--config", str(path), "--synthetic-data", "8", "--quiet"]) == 0
    rec = json.loads((root / "synth_config.json").read_text())
    assert rec["complete"] and rec["config"]["num_train"] == 8 and rec["config"]["hand_model"] == "mano"
    assert (out / "last.pt").is_file()
