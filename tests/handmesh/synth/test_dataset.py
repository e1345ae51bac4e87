"""handmesh-synth dataset: FreiHAND layout and shapes, annotations that match the pixels, FreiHAND's definitions of
root and scale, byte-for-byte determinism (also across worker counts), refusal, overwrite and resume."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from handmesh.errors import ConfigError, DataError
from handmesh.hand_model import build_hand_model, freihand_mano_to_mesh
from handmesh.synth import dataset as synth_dataset
from handmesh.synth.dataset import SynthConfig, generate_dataset

SMALL = SynthConfig(num_train=20, num_eval=6, versions=2, seed=3, chunk_size=8, occluder_prob=0.0)


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> content)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def load(root: Path, split: str, key: str) -> np.ndarray:
    return np.array(json.loads((root / f"{split}_{key}.json").read_text()), dtype=np.float64)


def read_mask(root: Path, index: int) -> np.ndarray:
    return cv2.imread(str(root / "training" / "mask" / f"{index:08d}.jpg"), cv2.IMREAD_GRAYSCALE) > 127


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "ds"
    report = generate_dataset(out, SMALL, workers=1, progress=False)
    assert report.images == 20 * 2 + 6 and report.skipped == 0
    return out


@pytest.fixture(scope="module")
def open_hand():
    return build_hand_model("open")


def test_freihand_layout_and_json_shapes(small: Path) -> None:
    rgb = sorted(p.name for p in (small / "training" / "rgb").iterdir())
    assert rgb == [f"{i:08d}.jpg" for i in range(40)]  # version k of annotation idx is image idx + 20 * k
    assert len(list((small / "training" / "mask").iterdir())) == 20
    assert sorted(p.name for p in (small / "evaluation" / "rgb").iterdir()) == [f"{i:08d}.jpg" for i in range(6)]
    img = cv2.imread(str(small / "training" / "rgb" / "00000000.jpg"))
    assert img.shape == (224, 224, 3)
    shapes = {"K": (3, 3), "mano": (1, 61), "xyz": (21, 3), "scale": (), "verts": (778, 3)}
    for split, n in (("training", 20), ("evaluation", 6)):
        for key, shape in shapes.items():
            assert load(small, split, key).shape == (n, *shape), (split, key)
    assert not (small / synth_dataset.PARTS_DIR).exists()
    rec = json.loads((small / "synth_config.json").read_text())
    assert rec["complete"] is True and rec["config"]["seed"] == 3
    # Versions show the same hand on different backgrounds.
    a = cv2.imread(str(small / "training" / "rgb" / "00000001.jpg")).astype(int)
    b = cv2.imread(str(small / "training" / "rgb" / "00000021.jpg")).astype(int)
    assert np.abs(a - b).mean() > 10


def test_keypoints_and_vertices_reproject_onto_the_drawn_hand(small: Path) -> None:
    K, xyz, verts = load(small, "training", "K"), load(small, "training", "xyz"), load(small, "training", "verts")
    for i in range(len(K)):
        mask = cv2.dilate(read_mask(small, i).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        assert mask.mean() > 0.05  # the hand fills a FreiHAND-like part of the crop
        for pts in (xyz[i], verts[i]):
            uv = pts @ K[i].T
            uv = uv[:, :2] / uv[:, 2:]
            px = np.round(uv).astype(int)
            assert np.all((px >= 0) & (px < 224)), i
            inside = mask[px[:, 1], px[:, 0]]
            assert inside.mean() > 0.995, (i, inside.mean())


def test_hand_is_centred_and_sized_like_freihand_crops(small: Path) -> None:
    for split in ("training", "evaluation"):
        K, verts = load(small, split, "K"), load(small, split, "verts")
        uv = np.einsum("nij,nvj->nvi", K, verts)
        uv = uv[..., :2] / uv[..., 2:]
        extent = (uv.max(1) - uv.min(1)).max(1) / 224
        centre = (uv.max(1) + uv.min(1)) / 2
        assert np.all((extent > 0.45) & (extent < 0.9))
        assert np.all(np.abs(centre - 111.5) < 40)
        assert np.all((K[:, 0, 0] > 400) & (K[:, 0, 0] < 900))
        assert np.all((verts[..., 2] > 0.2) & (verts[..., 2] < 2.0))


def test_scale_is_the_middle_finger_mcp_to_pip_bone(small: Path) -> None:
    for split in ("training", "evaluation"):
        xyz, scale = load(small, split, "xyz"), load(small, split, "scale")
        np.testing.assert_allclose(scale, np.linalg.norm(xyz[:, 10] - xyz[:, 9], axis=1), atol=2e-6)
        assert np.all((scale > 0.015) & (scale < 0.06))


def test_mano_annotation_round_trips_and_places_the_root_like_freihand(small: Path, open_hand) -> None:
    for split in ("training", "evaluation"):
        K, mano = load(small, split, "K"), load(small, split, "mano")
        verts, xyz = freihand_mano_to_mesh(mano, K, open_hand)
        np.testing.assert_allclose(verts, load(small, split, "verts"), atol=3e-6, rtol=0)
        np.testing.assert_allclose(xyz, load(small, split, "xyz"), atol=3e-6, rtol=0)
        # uv_root is keypoint 9 projected; the 61st number is focal / its depth (FreiHAND's recover_root).
        root = load(small, split, "xyz")[:, 9]
        uv = np.einsum("nij,nj->ni", K, root)
        np.testing.assert_allclose(mano[:, 0, 58:60], uv[:, :2] / uv[:, 2:], atol=1e-3)
        np.testing.assert_allclose(mano[:, 0, 60], K[:, 0, 0] / root[:, 2], rtol=1e-5)


def test_the_freihand_loader_reads_it(small: Path) -> None:
    from handmesh.datasets import FreiHANDDataset

    train = FreiHANDDataset(small, "training", with_mask=True, cache_dir=False)
    assert len(train) == 40  # 20 annotations x 2 versions
    sample = train[0]
    assert tuple(sample["image"].shape) == (3, 224, 224)
    np.testing.assert_allclose(sample["xyz"].numpy(), load(small, "training", "xyz")[0], atol=1e-5)
    evaluation = FreiHANDDataset(small, "evaluation", cache_dir=False)
    assert len(evaluation) == 6


def test_same_seed_same_bytes_different_seed_different(small: Path, tmp_path: Path) -> None:
    generate_dataset(tmp_path / "again", SMALL, workers=1, progress=False)
    assert tree_bytes(tmp_path / "again") == tree_bytes(small)
    other = SynthConfig(**{**SMALL.__dict__, "seed": 4})
    generate_dataset(tmp_path / "other", other, workers=1, progress=False)
    assert (tmp_path / "other" / "training_xyz.json").read_bytes() != (small / "training_xyz.json").read_bytes()


def test_two_workers_write_the_same_bytes_as_one(small: Path, tmp_path: Path) -> None:
    report = generate_dataset(tmp_path / "par", SMALL, workers=2, progress=False)
    assert report.workers == 2
    assert tree_bytes(tmp_path / "par") == tree_bytes(small)


def test_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    cfg = SynthConfig(num_train=2, num_eval=0, chunk_size=2)
    with pytest.raises(DataError, match="not empty.*--overwrite"):
        generate_dataset(tmp_path, cfg, progress=False)
    with pytest.raises(DataError, match="cannot resume"):
        generate_dataset(tmp_path, cfg, resume=True, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    # --overwrite replaces only what handmesh-synth writes.
    generate_dataset(tmp_path, cfg, overwrite=True, progress=False)
    generate_dataset(tmp_path, cfg, overwrite=True, progress=False)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert len(load(tmp_path, "training", "xyz")) == 2


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("num_train", 0, "nothing to generate"),
        ("num_train", -5, ">= 0"),
        ("image_size", -224, "image size"),
        ("image_size", 0, "image size"),
        ("versions", 5, "versions"),
        ("chunk_size", 0, "chunk size"),
        ("seed", -1, "seed"),
        ("occluder_prob", 1.5, "occluder"),
    ],
)
def test_impossible_requests_are_clear_errors(tmp_path: Path, field: str, value, message: str) -> None:
    base = {"num_train": 2, "num_eval": 0} if field != "num_train" else {"num_eval": 0}
    cfg = SynthConfig(**{**base, field: value})
    with pytest.raises(ConfigError, match=message):
        generate_dataset(tmp_path / "x", cfg, progress=False)
    assert not (tmp_path / "x").exists()


def _interrupted_run(out: Path, monkeypatch) -> None:
    """Generate SMALL into ``out`` and interrupt it (Ctrl-C) as the third chunk starts: two chunks are done."""
    real = synth_dataset._run_chunk
    calls = {"n": 0}

    def interrupt_after_two(task):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(synth_dataset, "_run_chunk", interrupt_after_two)
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(out, SMALL, workers=1, progress=False)
    monkeypatch.setattr(synth_dataset, "_run_chunk", real)


def test_interrupted_run_resumes_to_the_same_bytes(small: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "resumed"
    _interrupted_run(out, monkeypatch)
    # Interrupted: no final JSON, two finished chunks kept, the run marked incomplete.
    assert not list(out.glob("*_K.json"))
    assert len(list((out / synth_dataset.PARTS_DIR).rglob("*.json"))) == 2
    assert json.loads((out / "synth_config.json").read_text())["complete"] is False
    with pytest.raises(DataError, match="--resume"):
        generate_dataset(out, SMALL, progress=False)
    with pytest.raises(DataError, match="other settings.*seed"):
        generate_dataset(out, SynthConfig(**{**SMALL.__dict__, "seed": 9}), resume=True, progress=False)
    report = generate_dataset(out, SMALL, resume=True, progress=False)
    assert report.skipped == 32 and report.images == 46 - 32  # two training chunks of 8 x 2 versions were done
    assert tree_bytes(out) == tree_bytes(small)
    again = generate_dataset(out, SMALL, resume=True, progress=False)
    assert again.images == 0 and again.skipped == 46
    # An image of a finished dataset deleted since: --resume makes it again (it once said done, image missing).
    lost = out / "training" / "rgb" / "00000025.jpg"
    lost.unlink()
    mended = generate_dataset(out, SMALL, resume=True, progress=False)
    assert lost.is_file() and mended.images == 16  # the one chunk (8 samples x 2 versions) that named it
    assert tree_bytes(out) == tree_bytes(small)


def test_resume_redoes_a_recorded_chunk_whose_image_is_gone(small: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "resumed"
    _interrupted_run(out, monkeypatch)
    (out / "training" / "rgb" / "00000003.jpg").unlink()  # from the first, recorded chunk
    report = generate_dataset(out, SMALL, resume=True, progress=False)
    assert report.skipped == 16  # only the second recorded chunk is trusted
    assert tree_bytes(out) == tree_bytes(small)


def test_failure_while_assembling_json_leaves_no_half_written_file(tmp_path: Path, monkeypatch) -> None:
    cfg = SynthConfig(num_train=6, num_eval=0, chunk_size=2, occluder_prob=0.0)
    out = tmp_path / "ds"
    real_loads = json.loads
    seen = {"n": 0}

    def failing_loads(text, *a, **k):
        seen["n"] += 1
        if seen["n"] == 2:
            raise OSError("disk went away")
        return real_loads(text, *a, **k)

    monkeypatch.setattr(synth_dataset.json, "loads", failing_loads)
    with pytest.raises(DataError, match="--resume"):
        generate_dataset(out, cfg, progress=False)
    monkeypatch.setattr(synth_dataset.json, "loads", real_loads)
    assert not list(out.glob(".*.tmp"))
    assert not (out / "training_verts.json").exists()
    generate_dataset(out, cfg, resume=True, progress=False)
    assert load(out, "training", "verts").shape == (6, 778, 3)
