"""``handmesh-bench model`` runs end to end on a tiny setting and prints a complete table with ratios and the goal
checks (no timing asserts); the recipe sizes it uses are those of configs/."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from handmesh.cli.bench import main

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]
CONFIGS = Path(__file__).resolve().parents[3] / "configs"


def test_prints_a_table_with_threads_ratios_and_goals(capsys) -> None:
    pytest.importorskip("onnxruntime")
    rc = main(
        [
            "model",
            "--variants",
            "t8",
            "--input-size",
            "64",
            "--batches",
            "1",
            "2",
            "--repeats",
            "2",
            "--warmup",
            "0",
            "--threads",
            "1",
            "--head-hidden",
            "32",
        ]
    )
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "threads: 1" in out and "machine:" in out and "command: handmesh-bench model" in out
    assert "| variant | size | batch | train ms | reparam ms | ORT ms | TorchScript ms |" in out
    rows = [line for line in out.splitlines() if line.startswith("| fastvit_t8 | 64 |")]
    assert len(rows) == 2
    for batch, row in zip((1, 2), rows):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 12 and cells[2] == str(batch)
        assert all(float(c) > 0 for c in cells[3:8])  # four latencies and ORT per crop
        assert all(c.endswith("x") and float(c[:-1]) > 0 for c in cells[8:11])  # three ratios
        assert float(cells[11]) < 1e-4  # the exports agree with torch reparameterized (metres)
    assert "reparameterized torch" in out and "(goal >= 1.3x)" in out
    assert "ONNX Runtime" in out and "ms per crop (goal <= 8 ms)" in out
    assert "fastvit_t8 batch 2" in err  # progress goes to stderr


def test_without_the_export_columns(capsys) -> None:
    rc = main(
        [
            "model",
            "--variants",
            "t8",
            "--input-size",
            "64",
            "--batches",
            "1",
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--no-onnx",
            "--no-torchscript",
            "--head-hidden",
            "32",
        ]
    )
    out, _ = capsys.readouterr()
    assert rc == 0
    cells = [
        c.strip()
        for c in next(line for line in out.splitlines() if line.startswith("| fastvit_t8")).strip("|").split("|")
    ]
    assert cells[5] == "n/a" and cells[6] == "n/a" and cells[9] == "n/a"


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--input-size", "100"], "multiple of 32"),
        (["--batches", "0"], "positive batch sizes"),
        (["--variants", "t99"], "fastvit_t8"),
    ],
)
def test_bad_options_are_user_errors(argv, match, capsys) -> None:
    assert main(["model", *argv]) == 2
    assert match in capsys.readouterr().err


def test_recipe_sizes_match_the_configs() -> None:
    from handmesh.bench.model import RECIPES

    for variant, (size, fusion) in RECIPES.items():
        cfg = yaml.safe_load((CONFIGS / f"{variant}_freihand.yaml").read_text())["model"]
        assert (cfg["variant"], cfg["input_size"], cfg["feature_fusion"]) == (variant, size, fusion)
