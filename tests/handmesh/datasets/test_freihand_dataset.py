"""FreiHANDDataset: sample contract, splits and versions, the validation carve-out, bad images, masks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from handmesh.datasets.freihand import FreiHANDDataset, build_freihand_dataset, validation_indices
from handmesh.errors import ConfigError, DataError, MissingFileError
from handmesh.geometry.projection import project_pinhole as project

SHAPES = {
    "image": ((3, 224, 224), torch.float32),
    "K": ((3, 3), torch.float32),
    "xyz": ((21, 3), torch.float32),
    "uv": ((21, 2), torch.float32),
    "verts": ((778, 3), torch.float32),
    "has_verts": ((), torch.bool),
    "mano_pose": ((48,), torch.float32),
    "mano_shape": ((10,), torch.float32),
    "has_mano": ((), torch.bool),
    "crop_affine": ((2, 3), torch.float32),
    "index": ((), torch.int64),
    "image_id": ((), torch.int64),
    "has_xyz": ((), torch.bool),
    "valid": ((), torch.bool),
}


def test_sample_contract(tiny_freihand) -> None:
    s = FreiHANDDataset(tiny_freihand.root, "training", cache_dir=False)[0]
    assert set(s) == set(SHAPES)
    for key, (shape, dtype) in SHAPES.items():
        assert tuple(s[key].shape) == shape and s[key].dtype == dtype, key
    assert bool(s["has_verts"]) and bool(s["has_mano"]) and bool(s["valid"])


def test_unaugmented_sample_is_the_file(tiny_freihand) -> None:
    ds = FreiHANDDataset(tiny_freihand.root, "training", crop_expand=None, cache_dir=False)  # the whole frame
    s = ds[7]  # version gs has items 0..5, so item 7 is annotation 1 in version hom
    assert int(s["index"]) == 1 and int(s["image_id"]) == 1 + tiny_freihand.n_train
    tr = tiny_freihand.train
    np.testing.assert_allclose(s["K"].numpy(), tr["K"][1], rtol=1e-6)
    np.testing.assert_allclose(s["xyz"].numpy(), tr["xyz"][1], rtol=1e-6)
    np.testing.assert_allclose(s["verts"].numpy(), tr["verts"][1], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(s["mano_pose"].numpy(), tr["mano"][1, :48], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(s["uv"].numpy(), project(tr["xyz"][1], tr["K"][1]), atol=1e-3)
    np.testing.assert_allclose(s["crop_affine"].numpy(), [[1, 0, 0], [0, 1, 0]], atol=1e-6)
    expected = torch.tensor([(0.0 / 255 - m) / sd for m, sd in zip((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    corner = s["image"][:, 0, 0]  # background of version hom is 50, gs is 40
    assert (corner > expected + 0.5).all()


def test_training_crops_are_framed_like_the_live_pipeline(tiny_freihand) -> None:
    """One framing: an unaugmented training or validation crop is the crop the live pipeline makes from the same
    keypoints (their box x 1.6), and the hand fills 1 / 1.6 of it."""
    from handmesh.crop import DEFAULT_EXPAND, keypoint_crop_box, make_crop

    tr = tiny_freihand.train
    for split in ("training", "val"):
        ds = FreiHANDDataset(tiny_freihand.root, split, val_fraction=0.5, cache_dir=False)
        s = ds[0]
        idx = int(s["index"])
        uv_frame = project(tr["xyz"][idx], tr["K"][idx])
        live = make_crop(keypoint_crop_box(uv_frame), ds.input_size)
        np.testing.assert_allclose(s["crop_affine"].numpy(), live.affine, atol=1e-4)
        uv = s["uv"].numpy()
        extent = (uv.max(axis=0) - uv.min(axis=0)).max()
        assert extent == pytest.approx(ds.input_size / DEFAULT_EXPAND, rel=1e-4)
        centre = (uv.max(axis=0) + uv.min(axis=0)) / 2
        np.testing.assert_allclose(centre, (ds.input_size - 1) / 2, atol=1e-3)


def test_evaluation_crops_never_look_at_the_ground_truth(tiny_freihand) -> None:
    """The evaluation split gets the fixed centred crop of crop_fraction whether or not its keypoints are known."""
    ds = FreiHANDDataset(tiny_freihand.root, "evaluation", crop_fraction=0.8, cache_dir=False)
    w = 224  # the fixture's image side
    for i in range(2):
        affine = ds[i]["crop_affine"].numpy()
        a = ds.input_size / (0.8 * w)
        np.testing.assert_allclose(affine[:, :2], np.eye(2) * a, atol=1e-6)
        np.testing.assert_allclose(affine @ [(w - 1) / 2, (w - 1) / 2, 1], [(ds.input_size - 1) / 2] * 2, atol=1e-4)
    with pytest.raises(ConfigError, match="data.crop_expand"):
        FreiHANDDataset(tiny_freihand.root, "training", crop_expand=0.0, cache_dir=False)
    with pytest.raises(ConfigError, match="data.eval_crop_fraction"):
        FreiHANDDataset(tiny_freihand.root, "evaluation", crop_fraction=-1.0, cache_dir=False)


def test_versions_and_image_ids(tiny_freihand) -> None:
    n = tiny_freihand.n_train
    full = FreiHANDDataset(tiny_freihand.root, "training", cache_dir=False)
    assert full.versions == ("gs", "hom", "sample", "auto") and len(full) == 4 * n
    ids = [int(full.image_path(i).stem) for i in range(len(full))]
    assert ids == list(range(4 * n))
    two = FreiHANDDataset(tiny_freihand.root, "training", versions=["hom", "auto"], cache_dir=False)
    assert [int(two.image_path(i).stem) for i in range(len(two))] == [i + n for i in range(n)] + [
        i + 3 * n for i in range(n)
    ]
    with pytest.raises(ConfigError, match="versions"):
        FreiHANDDataset(tiny_freihand.root, "training", versions=["green"], cache_dir=False)


def test_single_version_synthetic_layout(tmp_path: Path, make_tiny_freihand) -> None:
    root = make_tiny_freihand(tmp_path / "one", n_train=5, versions=1, masks=False).root
    ds = FreiHANDDataset(root, "training", cache_dir=False)
    assert ds.versions == ("gs",) and len(ds) == 5
    with pytest.raises(DataError, match=r"hom, sample, auto have no images.*found only gs"):
        FreiHANDDataset(root, "training", versions=["gs", "hom", "sample", "auto"], cache_dir=False)


def test_train_val_carve_out(tiny_freihand) -> None:
    root = tiny_freihand.root
    train = FreiHANDDataset(root, "train", val_fraction=0.3, cache_dir=False)
    val = FreiHANDDataset(root, "val", val_fraction=0.3, cache_dir=False)
    tr_idx = {int(train.annotation_index(i)) for i in range(len(train))}
    va_idx = {int(val.annotation_index(i)) for i in range(len(val))}
    assert tr_idx and va_idx and not tr_idx & va_idx and tr_idx | va_idx == set(range(tiny_freihand.n_train))
    assert len(val) == 4 * len(va_idx)  # every version of a validation index is in validation


def test_validation_indices_stable() -> None:
    big = validation_indices(32560, 0.02, seed=0)
    assert 32560 * 0.02 * 0.85 < big.size < 32560 * 0.02 * 1.15
    np.testing.assert_array_equal(big, validation_indices(32560, 0.02, seed=0))
    # Membership depends on the index alone: a smaller dataset keeps the same choices.
    np.testing.assert_array_equal(validation_indices(5000, 0.02), big[big < 5000])
    assert not np.array_equal(validation_indices(32560, 0.02, seed=1), big)
    assert validation_indices(10, 0.01).size == 1  # never empty when asked for
    assert validation_indices(100, 0.0).size == 0
    with pytest.raises(ConfigError):
        validation_indices(100, 1.0)


def test_evaluation_order(tiny_freihand) -> None:
    ds = FreiHANDDataset(tiny_freihand.root, "evaluation", cache_dir=False)
    assert len(ds) == tiny_freihand.n_eval
    assert [int(ds[i]["index"]) for i in range(len(ds))] == list(range(tiny_freihand.n_eval))
    np.testing.assert_array_equal(ds.annotation_indices, np.arange(tiny_freihand.n_eval))


def test_evaluation_without_ground_truth(tiny_freihand) -> None:
    for kind in ("xyz", "verts", "mano"):
        (tiny_freihand.root / f"evaluation_{kind}.json").unlink()
    s = FreiHANDDataset(tiny_freihand.root, "evaluation", cache_dir=False)[0]
    assert not bool(s["has_xyz"]) and not bool(s["has_verts"]) and not bool(s["has_mano"])
    assert float(s["xyz"].abs().sum()) == 0.0


def test_missing_layout_listed(tmp_path: Path) -> None:
    (tmp_path / "fh").mkdir()
    with pytest.raises(MissingFileError) as err:
        FreiHANDDataset(tmp_path / "fh", "train", with_mask=True)
    msg = str(err.value)
    for part in ("training_K.json", "training_xyz.json", "training/rgb/", "training/mask/", "evaluation_K.json"):
        assert part in msg


def test_missing_image_error_and_skip(tiny_freihand) -> None:
    root = tiny_freihand.root
    (root / "training" / "rgb" / "00000008.jpg").unlink()
    with pytest.raises(DataError, match=r"1 of 24 images .* 00000008\.jpg.*32,560.*skip_bad"):
        FreiHANDDataset(root, "training", cache_dir=False)
    ds = FreiHANDDataset(root, "training", skip_bad=True, cache_dir=False)
    assert len(ds) == 23 and len(ds.skipped) == 1 and ds.skipped[0].endswith("00000008.jpg")


def test_corrupt_image_error_and_skip(tiny_freihand) -> None:
    root = tiny_freihand.root
    (root / "training" / "rgb" / "00000002.jpg").write_bytes(b"not a jpeg")
    ds = FreiHANDDataset(root, "training", cache_dir=False)
    with pytest.raises(DataError, match=r"00000002\.jpg"):
        ds[2]
    ds = FreiHANDDataset(root, "training", skip_bad=True, cache_dir=False)
    s = ds[2]  # replaced by the next readable item
    assert int(s["image_id"]) == 3 and ds.skipped == [str(root / "training" / "rgb" / "00000002.jpg")]


def test_evaluation_keeps_bad_images_in_place(tiny_freihand) -> None:
    root = tiny_freihand.root
    (root / "evaluation" / "rgb" / "00000001.jpg").write_bytes(b"\xff\xd8 truncated")
    (root / "evaluation" / "rgb" / "00000003.jpg").unlink()
    ds = FreiHANDDataset(root, "evaluation", skip_bad=True, cache_dir=False)
    valid = [bool(ds[i]["valid"]) for i in range(len(ds))]
    assert valid == [True, False, True, False]
    assert [int(ds[i]["index"]) for i in range(len(ds))] == [0, 1, 2, 3]
    assert len(ds.skipped) == 2


def test_masks_follow_the_crop(tiny_freihand) -> None:
    from handmesh.datasets.augment import AugmentParams

    ds = FreiHANDDataset(
        tiny_freihand.root,
        "training",
        versions=["gs"],
        with_mask=True,
        cache_dir=False,
        augment=AugmentParams(color_jitter=0, blur_prob=0, occlusion_prob=0),
    )
    s = ds.get_sample(3, np.random.default_rng(1))
    assert s["mask"].shape == (224, 224) and s["mask"].dtype == torch.float32
    uv = s["uv"].numpy()
    for j in tiny_freihand.markers:  # the fixture's masks cover the dots
        x, y = np.round(uv[j]).astype(int)
        if 0 <= x < 224 and 0 <= y < 224:
            assert s["mask"][y, x] == 1.0
    assert 0.0 < float(s["mask"].mean()) < 0.2
    with pytest.raises(ConfigError, match="training split only"):
        FreiHANDDataset(tiny_freihand.root, "evaluation", with_mask=True)


def test_dataloader_with_workers(tiny_freihand) -> None:
    ds = FreiHANDDataset(tiny_freihand.root, "evaluation")
    batch = next(iter(DataLoader(ds, batch_size=4, num_workers=2)))
    assert batch["image"].shape == (4, 3, 224, 224) and batch["verts"].shape == (4, 778, 3)
    np.testing.assert_allclose(batch["verts"][2].numpy(), tiny_freihand.evaluation["verts"][2], rtol=1e-6, atol=1e-7)


def test_build_from_config(tiny_freihand) -> None:
    from handmesh.config import load_config

    cfg = load_config(None, [f"data.root={tiny_freihand.root}", "data.val_fraction=0.3"])
    train = build_freihand_dataset(cfg.data, "train", input_size=192, cache_dir=False)
    val = build_freihand_dataset(cfg.data, "val", input_size=192, cache_dir=False)
    assert train.augment is not None and train.augment.rotation_deg == cfg.data.augment.rotation_deg
    assert val.augment is None
    assert train[0]["image"].shape == (3, 192, 192)
    assert len(train) + len(val) == 4 * tiny_freihand.n_train


def test_image_order_matches_json_order(tiny_freihand) -> None:
    """The dataset pairs image i with entry i of every annotation file."""
    ds = FreiHANDDataset(tiny_freihand.root, "evaluation", cache_dir=False)
    xyz = json.loads((tiny_freihand.root / "evaluation_xyz.json").read_text())
    for i in range(len(ds)):
        np.testing.assert_allclose(ds[i]["xyz"].numpy(), np.asarray(xyz[i]), rtol=1e-6)
    shutil.rmtree(tiny_freihand.root / "evaluation")
    with pytest.raises(MissingFileError, match="evaluation/rgb/"):
        FreiHANDDataset(tiny_freihand.root, "evaluation", cache_dir=False)
