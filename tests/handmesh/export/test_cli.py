"""``handmesh-export``: writes and checks an artefact, inspects one, and turns bad input into one clear line
(exit code 2) that names the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from handmesh.cli.export import main


def test_exports_beside_the_checkpoint_and_reports_parity(checkpoint: Path, tmp_path: Path, capsys) -> None:
    pytest.importorskip("onnxruntime")
    ckpt = tmp_path / "best.pt"
    ckpt.write_bytes(checkpoint.read_bytes())
    rc = main(["--checkpoint", str(ckpt), "--format", "onnx"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert (tmp_path / "best.onnx").is_file()
    assert f"wrote {tmp_path / 'best.onnx'} (onnx, fp32, fastvit_t8 64px, open hand, batch any)" in out
    assert "input: image ('batch', 3, 64, 64) float32" in out
    assert "vertices ('batch', 778, 3)" in out
    assert "parity with PyTorch on 2 random crops" in out and ": ok" in out

    rc = main(["--inspect", str(tmp_path / "best.onnx")])
    out, _ = capsys.readouterr()
    assert rc == 0
    assert "artefact: onnx (fp32), batch any" in out and "mesh: 778 vertices, 1552 faces" in out
    assert "checkpoint best.pt" in out


def test_torchscript_with_an_explicit_output(checkpoint: Path, tmp_path: Path, capsys) -> None:
    out_path = tmp_path / "sub" / "hand.ts"
    rc = main(["--checkpoint", str(checkpoint), "--format", "torchscript", "--output", str(out_path), "--batch", "2"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert out_path.is_file() and "batch 2" in out and ": ok" in out


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda p: p.write_bytes(b"not a checkpoint at all"), "not_ours.pt"),
        (lambda p: torch.save({"weights": torch.zeros(3)}, p), r"not_ours\.pt is not a handmesh checkpoint"),
    ],
)
def test_foreign_or_corrupt_checkpoint_is_one_line(make, match: str, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "not_ours.pt"
    make(bad)
    rc = main(["--checkpoint", str(bad), "--format", "onnx"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("exporting") and "error: " in err and "Traceback" not in err
    import re

    assert re.search(match, err)
    assert not (tmp_path / "not_ours.onnx").exists()


def test_missing_checkpoint_and_bad_options(checkpoint: Path, tmp_path: Path, capsys) -> None:
    assert main(["--checkpoint", str(tmp_path / "missing.pt")]) == 2
    assert "missing.pt does not exist" in capsys.readouterr().err
    assert main(["--checkpoint", str(checkpoint), "--batch", "0"]) == 2
    assert "batch: expected a positive integer or 'dynamic'" in capsys.readouterr().err
    assert main(["--checkpoint", str(checkpoint), "--format", "coreml", "--device", "cuda"]) == 2
    assert "only TorchScript exports are traced on a device" in capsys.readouterr().err
    assert main(["--inspect", str(checkpoint)]) == 2
    assert "is a checkpoint, not an export" in capsys.readouterr().err
