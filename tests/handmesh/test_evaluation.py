"""Scoring predictions: pred.json I/O and its errors, metrics.json / CSV reports, a predictor over a dataset, and the
``handmesh-eval`` command."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from handmesh.cli.eval import main
from handmesh.datasets.freihand import FreiHANDDataset, validation_indices
from handmesh.datasets.freihand_format import write_freihand_split
from handmesh.errors import CheckpointError, ConfigError, DataError, MissingFileError
from handmesh.evaluation import (
    evaluate_prediction_file,
    evaluate_predictor,
    evaluate_with_predictor,
    load_ground_truth,
    load_predictor,
    read_predictions,
    write_predictions,
)
from handmesh.evaluation.predictions import _read_predictions_fast
from handmesh.metrics import evaluate

N_EVAL, N_TRAIN = 6, 10


def _split(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    K = np.tile(np.array([[500.0, 0, 112], [0, 500.0, 112], [0, 0, 1]]), (n, 1, 1))
    K[:, 0, 0] += np.arange(n)  # distinct per sample, so a predictor can tell samples apart
    xyz = rng.normal(size=(n, 21, 3)) * 0.03 + [0, 0, 0.6]
    verts = rng.normal(size=(n, 778, 3)) * 0.03 + [0, 0, 0.6]
    return {"K": K, "xyz": xyz, "verts": verts, "mano": rng.normal(size=(n, 61)) * 0.1, "scale": np.full(n, 0.03)}


@pytest.fixture
def freihand(tmp_path: Path) -> tuple[Path, dict, dict]:
    """A small FreiHAND folder: evaluation (6 samples) and training (10 samples, one version), plain images."""
    rng = np.random.default_rng(0)
    root = tmp_path / "fh"
    ev, tr = _split(rng, N_EVAL), _split(rng, N_TRAIN)
    images = [np.full((224, 224, 3), 30 * i % 255, np.uint8) for i in range(max(N_EVAL, N_TRAIN))]
    write_freihand_split(root, "evaluation", **ev, images=images[:N_EVAL])
    write_freihand_split(root, "training", **tr, images=images[:N_TRAIN])
    return root, ev, tr


class LookupPredictor:
    """Returns the ground truth of whichever sample has this K (plus a rigid offset), to check order end to end."""

    input_size = 224

    def __init__(self, split: dict, offset: float = 0.01):
        self.split, self.offset, self.calls = split, offset, 0

    def __call__(self, images: torch.Tensor, K: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assert images.shape[1:] == (3, 224, 224) and images.dtype == torch.float32
        self.calls += 1
        idx = [int(np.argmin(np.abs(self.split["K"][:, 0, 0] - float(k[0, 0])))) for k in K]
        xyz = torch.as_tensor(self.split["xyz"][idx] + self.offset)
        verts = torch.as_tensor(self.split["verts"][idx] + self.offset)
        return xyz.float(), verts.float()


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------------------------------------------------
def test_pred_json_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    xyz, verts = rng.normal(size=(4, 21, 3)), rng.normal(size=(4, 778, 3))
    path = write_predictions(tmp_path / "out" / "pred.json", xyz, verts)
    raw = json.loads(path.read_text())
    assert len(raw) == 2 and np.shape(raw[0]) == (4, 21, 3) and np.shape(raw[1]) == (4, 778, 3)
    back = read_predictions(path, 4)
    np.testing.assert_allclose(back.xyz, xyz, atol=5e-9)
    np.testing.assert_allclose(back.verts, verts, atol=5e-9)
    assert [p.name for p in path.parent.iterdir()] == ["pred.json"]  # no temporary left behind


@pytest.mark.parametrize("num_verts", [778, 500])
def test_read_predictions_equals_json(tmp_path: Path, num_verts: int) -> None:
    """Any valid formatting (indentation, NaN, other vertex counts) reads exactly as json.load reads it."""
    rng = np.random.default_rng(4)
    xyz, verts = rng.normal(size=(3, 21, 3)), rng.normal(size=(3, num_verts, 3))
    xyz[1, 2, 0] = np.nan
    path = tmp_path / "pred.json"
    path.write_text(json.dumps([xyz.tolist(), verts.tolist()], indent=1))
    got = read_predictions(path, 3)
    np.testing.assert_array_equal(got.xyz, xyz)
    np.testing.assert_array_equal(got.verts, verts)
    assert _read_predictions_fast(path, 3) is not None  # the fast reader handled it, not the json.load fallback


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ('{"xyz": []}', r"found dict; expected \[xyz_list, verts_list\]"),
        ("[[], [], []]", r"found a list of 3 items"),
        ("[1, 2", r"not valid JSON"),
        (
            "LENGTH",
            r"holds 5 keypoint sets and 6 vertex sets, but the evaluation split has 6 samples.*"
            r"3,960.*xyz_list \(6, 21, 3\)",
        ),
        ("RAGGED", r"xyz_list\[2\] has shape \(20, 3\), expected \(21, 3\)"),
        ("TEXT", r"verts_list\[4\] is not a list of numbers, expected \(778, 3\)"),
    ],
)
def test_read_predictions_errors(tmp_path: Path, content: str, pattern: str) -> None:
    xyz, verts = np.zeros((6, 21, 3)).tolist(), np.zeros((6, 778, 3)).tolist()
    if content == "LENGTH":
        content = json.dumps([xyz[:5], verts])
    elif content == "RAGGED":
        xyz[2] = xyz[2][:20]
        content = json.dumps([xyz, verts])
    elif content == "TEXT":
        verts[4][7] = ["a", "b", "c"]
        content = json.dumps([xyz, verts])
    path = tmp_path / "pred.json"
    path.write_text(content)
    with pytest.raises(DataError, match=pattern):
        read_predictions(path, 6)


def test_read_predictions_missing(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="does not exist"):
        read_predictions(tmp_path / "nope.json", 6)


def test_score_file_writes_reports(freihand, tmp_path: Path) -> None:
    root, ev, _ = freihand
    rng = np.random.default_rng(2)
    pred_xyz = ev["xyz"] + rng.normal(size=ev["xyz"].shape) * 0.01
    pred_verts = ev["verts"] + rng.normal(size=ev["verts"].shape) * 0.01
    pred = write_predictions(tmp_path / "sub" / "pred.json", pred_xyz, pred_verts)
    report = evaluate_prediction_file(pred, root, per_sample_csv=tmp_path / "per_sample.csv")
    direct = evaluate(np.round(pred_xyz, 8), ev["xyz"], np.round(pred_verts, 8), ev["verts"])
    assert report.result.official_scores() == pytest.approx(direct.official_scores(), abs=1e-12)
    assert report.metrics_json == tmp_path / "sub" / "metrics.json"
    saved = json.loads(report.metrics_json.read_text())
    assert saved["split"] == "evaluation" and saved["num_evaluated"] == N_EVAL
    assert saved["metrics_mm"]["pa_mpjpe"] == pytest.approx(direct.pa_mpjpe_mm)
    assert saved["official_scores"]["xyz_al_mean3d"] == pytest.approx(direct.pa_mpjpe_mm / 10)
    rows = _csv_rows(tmp_path / "per_sample.csv")
    assert len(rows) == N_EVAL and rows[3]["index"] == "3" and rows[3]["status"] == "ok"
    assert float(rows[3]["pa_mpjpe_mm"]) == pytest.approx(direct.per_sample.pa_mpjpe[3], abs=1e-5)
    assert float(rows[3]["f@15mm"]) == pytest.approx(direct.per_sample.fscore[3, 1], abs=1e-5)


def test_nan_predictions_listed(freihand, tmp_path: Path) -> None:
    root, ev, _ = freihand
    xyz = ev["xyz"].copy()
    xyz[4, 0, 0] = np.nan  # json writes NaN, which Python (and this reader) accept
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps([xyz.tolist(), ev["verts"].tolist()]))
    report = evaluate_prediction_file(pred, root, per_sample_csv=tmp_path / "ps.csv")
    assert report.result.bad_indices == [4]
    assert np.isfinite(report.result.pa_mpjpe_mm)
    assert json.loads(report.metrics_json.read_text())["bad_indices"] == [4]
    assert _csv_rows(tmp_path / "ps.csv")[4]["status"] == "nan_prediction"


def test_ground_truth_missing_names_files(freihand, tmp_path: Path) -> None:
    root, ev, _ = freihand
    (root / "evaluation_verts.json").unlink()
    (root / "evaluation_xyz.json").unlink()
    pred = write_predictions(tmp_path / "pred.json", ev["xyz"], ev["verts"])
    with pytest.raises(MissingFileError, match=r"evaluation_xyz\.json.*evaluation_verts\.json"):
        evaluate_prediction_file(pred, root)


def test_val_split_order(freihand) -> None:
    root, _, tr = freihand
    gt = load_ground_truth(root, "val", val_fraction=0.3)
    np.testing.assert_array_equal(gt.indices, validation_indices(N_TRAIN, 0.3))
    np.testing.assert_array_equal(gt.xyz, tr["xyz"][gt.indices])
    with pytest.raises(ConfigError, match="split"):
        load_ground_truth(root, "test")


# ---------------------------------------------------------------------------------------------------------------------
def test_predictor_follows_dataset_order(freihand) -> None:
    root, ev, _ = freihand
    predictor = LookupPredictor(ev)
    preds = evaluate_predictor(predictor, FreiHANDDataset(root, "evaluation"), batch_size=4, progress=False)
    assert predictor.calls == 2 and preds.skipped == []
    np.testing.assert_allclose(preds.xyz, ev["xyz"] + 0.01, atol=1e-6)
    np.testing.assert_allclose(preds.verts, ev["verts"] + 0.01, atol=1e-6)


def test_predictor_end_to_end(freihand, tmp_path: Path) -> None:
    root, ev, _ = freihand
    report = evaluate_with_predictor(
        LookupPredictor(ev),
        root,
        output_dir=tmp_path / "eval",
        batch_size=4,
        progress=False,
        per_sample_csv=tmp_path / "eval" / "ps.csv",
    )
    assert report.predictions_json == tmp_path / "eval" / "pred.json"
    back = read_predictions(report.predictions_json, N_EVAL)
    np.testing.assert_allclose(back.xyz, ev["xyz"] + 0.01, atol=1e-6)
    assert report.result.mpjpe_mm == pytest.approx(10 * np.sqrt(3), abs=1e-3)  # (1, 1, 1) cm offset
    assert report.result.pa_mpjpe_mm == pytest.approx(0.0, abs=1e-3)
    assert report.result.fscore == (1.0, 1.0)
    assert (tmp_path / "eval" / "metrics.json").is_file() and (tmp_path / "eval" / "ps.csv").is_file()


def test_predictor_skips_unreadable_images(freihand, tmp_path: Path) -> None:
    root, ev, _ = freihand
    bad = root / "evaluation" / "rgb" / "00000002.jpg"
    bad.write_bytes(b"broken")
    with pytest.raises(DataError, match=r"00000002\.jpg"):
        evaluate_with_predictor(LookupPredictor(ev), root, output_dir=tmp_path / "a", progress=False)
    report = evaluate_with_predictor(
        LookupPredictor(ev), root, output_dir=tmp_path / "b", skip_bad=True, progress=False
    )
    assert report.result.excluded_indices == [2] and report.result.num_evaluated == N_EVAL - 1
    back = read_predictions(report.predictions_json, N_EVAL)
    assert (back.xyz[2] == 0).all() and (back.verts[2] == 0).all()  # zero rows keep the submission complete
    saved = json.loads(report.metrics_json.read_text())
    assert saved["excluded_indices"] == [2] and saved["skipped_images"] == [str(bad)]


def test_predictor_without_ground_truth_writes_predictions_only(freihand, tmp_path: Path) -> None:
    root, ev, _ = freihand
    for kind in ("xyz", "verts", "mano"):
        (root / f"evaluation_{kind}.json").unlink()
    report = evaluate_with_predictor(LookupPredictor(ev), root, output_dir=tmp_path / "e", progress=False)
    assert report.result is None and report.metrics_json is None
    assert read_predictions(report.predictions_json, N_EVAL).xyz.shape == (N_EVAL, 21, 3)


def test_predictor_shape_checked(freihand) -> None:
    root, _, _ = freihand

    def wrong(images: torch.Tensor, K: torch.Tensor):
        return torch.zeros(len(images), 16, 3), torch.zeros(len(images), 778, 3)

    with pytest.raises(DataError, match=r"expected \(6, 21, 3\)"):
        evaluate_predictor(wrong, FreiHANDDataset(root, "evaluation"), batch_size=8, progress=False)  # type: ignore


def test_predictor_needs_one_item_per_annotation(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    tr = _split(rng, 3)
    write_freihand_split(tmp_path, "training", **tr, images=[np.zeros((224, 224, 3), np.uint8)] * 6, image_ids=range(6))
    ds = FreiHANDDataset(tmp_path, "training")
    assert ds.versions == ("gs", "hom")
    with pytest.raises(ConfigError, match="one image version"):
        evaluate_predictor(LookupPredictor(tr), ds, progress=False)


def test_load_predictor_explains(tmp_path: Path) -> None:
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"")
    with pytest.raises(CheckpointError, match="model.pt"):
        load_predictor(ckpt)
    with pytest.raises(ConfigError, match="backend 'onnx'"):
        load_predictor(ckpt, backend="onnx")
    with pytest.raises(MissingFileError):
        load_predictor(tmp_path / "missing.pt")


# ---------------------------------------------------------------------------------------------------------------------
def test_cli_scores_predictions(freihand, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root, ev, _ = freihand
    pred = write_predictions(tmp_path / "pred.json", ev["xyz"] + 0.002, ev["verts"])
    rc = main(
        ["--predictions", str(pred), "--data", str(root), "--per-sample-csv", str(tmp_path / "ps.csv"), "--no-cache"]
    )
    out = capsys.readouterr()
    assert rc == 0
    assert "PA-MPJPE" in out.out and "F@5mm" in out.out and f"over {N_EVAL} of {N_EVAL} samples" in out.out
    assert json.loads((tmp_path / "metrics.json").read_text())["metrics_mm"]["mpjpe"] == pytest.approx(
        2 * np.sqrt(3), abs=1e-4
    )
    assert (tmp_path / "ps.csv").is_file() and "metrics:" in out.err
    assert not (root / ".handmesh_cache").exists()


def test_cli_data_from_config(freihand, tmp_path: Path) -> None:
    root, ev, _ = freihand
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"data:\n  root: {root}\n")
    pred = write_predictions(tmp_path / "pred.json", ev["xyz"], ev["verts"])
    assert main(["--predictions", str(pred), "--config", str(cfg), "--output-dir", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "metrics.json").is_file()


def test_cli_wrong_length(freihand, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root, ev, _ = freihand
    pred = write_predictions(tmp_path / "pred.json", ev["xyz"][:4], ev["verts"][:4])
    assert main(["--predictions", str(pred), "--data", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "expected [xyz_list, verts_list]" in err and "(6, 21, 3)" in err


def test_cli_missing_data(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pred = write_predictions(tmp_path / "pred.json", np.zeros((2, 21, 3)), np.zeros((2, 778, 3)))
    assert main(["--predictions", str(pred), "--data", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_checkpoint_explains(freihand, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root, _, _ = freihand
    ckpt = tmp_path / "best.pt"
    ckpt.write_bytes(b"x")
    assert main(["--checkpoint", str(ckpt), "--data", str(root)]) == 2
    err = capsys.readouterr().err
    assert "cannot read checkpoint" in err and "best.pt" in err


def test_cli_needs_a_source(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["--data", "x"])
    assert "--predictions" in capsys.readouterr().err


def test_exported_model_predicts_like_the_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnxruntime")
    from handmesh.config import config_to_dict, load_config
    from handmesh.evaluation import RuntimePredictor
    from handmesh.network import build_network, save_network

    monkeypatch.setenv("HANDMESH_CACHE_DIR", str(tmp_path / "cache"))
    torch.manual_seed(0)
    cfg = load_config(None, ["model.input_size=64", "model.hand_model=open", "model.head_hidden=32"])
    net = build_network(cfg.model)
    net.train()
    with torch.no_grad():  # non-trivial BatchNorm statistics
        net(torch.randn(4, 3, 64, 64))
    ckpt = save_network(net.eval(), tmp_path / "net.pt", config_to_dict(cfg))
    yy, xx = torch.meshgrid(torch.linspace(-2, 2, 64), torch.linspace(-2, 2, 64), indexing="ij")
    images = torch.stack([torch.stack([torch.sin(3 * xx + i), torch.cos(2 * yy - i), xx * yy]) for i in range(2)])
    K = torch.tensor([[150.0, 0.0, 32.0], [0.0, 150.0, 32.0], [0.0, 0.0, 1.0]]).expand(2, 3, 3)
    xyz_t, verts_t = load_predictor(ckpt)(images, K)
    onnx = load_predictor(ckpt, backend="onnxruntime", device="cpu")
    assert isinstance(onnx, RuntimePredictor) and onnx.input_size == 64
    xyz_o, verts_o = onnx(images, K)
    assert float(xyz_t[:, :, 2].min()) > 0  # in front of the camera
    assert torch.allclose(xyz_o, xyz_t, atol=1e-4) and torch.allclose(verts_o, verts_t, atol=1e-4)


@pytest.mark.parametrize("scale", [1e3, 1e300, 1e307])
def test_predictions_kilometres_away_are_refused(
    freihand, tmp_path: Path, scale: float, capsys: pytest.CaptureFixture
) -> None:
    """x1e300 once scored 48 mm with Infinity in metrics.json; x1e307 raised a LinAlgError traceback."""
    root, ev, _ = freihand
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps([(ev["xyz"] * scale).tolist(), ev["verts"].tolist()]))
    with pytest.raises(DataError, match=r"xyz_list\[\d+\]\[\d+\]\[\d\] = .* m; no hand is that far"):
        evaluate_prediction_file(pred, root)
    assert main(["--predictions", str(pred), "--data", str(root), "--no-cache"]) == 2
    assert "wrong units?" in capsys.readouterr().err
    assert not (tmp_path / "metrics.json").exists()


def test_all_nan_predictions_are_an_error_and_metrics_json_stays_strict(freihand, tmp_path: Path) -> None:
    root, ev, _ = freihand
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps([np.full_like(ev["xyz"], np.nan).tolist(), ev["verts"].tolist()]))
    with pytest.raises(DataError, match="every keypoint prediction holds NaN"):
        evaluate_prediction_file(pred, root)
    # One NaN sample among good ones still scores; the file written is strict JSON (no bare NaN or Infinity).
    xyz = ev["xyz"].copy()
    xyz[1] = np.nan
    pred.write_text(json.dumps([xyz.tolist(), ev["verts"].tolist()]))
    report = evaluate_prediction_file(pred, root)
    text = report.metrics_json.read_text()
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))


def test_unreadable_image_in_a_loader_worker_is_one_line(freihand, tmp_path: Path) -> None:
    """With loader workers (handmesh-eval --checkpoint's default) the error once came wrapped in a 15-line
    DataLoader traceback."""
    root, ev, _ = freihand
    (root / "evaluation" / "rgb" / "00000002.jpg").write_bytes(b"broken")
    with pytest.raises(DataError) as info:
        evaluate_with_predictor(LookupPredictor(ev), root, output_dir=tmp_path / "a", progress=False, num_workers=1)
    message = str(info.value)
    assert "00000002.jpg" in message and "\n" not in message and "Traceback" not in message
