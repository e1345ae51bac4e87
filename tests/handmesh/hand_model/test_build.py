"""build_hand_model: names, sides, the MANO lookup order, the npz fast path and the missing-file message."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from handmesh.errors import ConfigError, MissingFileError
from handmesh.hand_model.build import (
    MANO_DIR_ENV,
    build_hand_model,
    find_mano_file,
    mano_search_dirs,
)
from handmesh.hand_model.convert import convert_mano_pickle
from handmesh.hand_model.mano_pickle import load_mano_pickle


@pytest.fixture()
def no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No $HANDMESH_MANO_DIR and a working directory without data/mano."""
    monkeypatch.delenv(MANO_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_explicit_dir_then_env_then_data_mano(no_env: Path, mano_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_mano_file("right", mano_dir) == mano_dir / "MANO_RIGHT.pkl"
    assert find_mano_file("left", mano_dir / "MANO_LEFT.pkl") == mano_dir / "MANO_LEFT.pkl"  # a file as is
    monkeypatch.setenv(MANO_DIR_ENV, str(mano_dir))
    assert find_mano_file("right") == mano_dir / "MANO_RIGHT.pkl"
    assert mano_search_dirs()[0] == mano_dir
    monkeypatch.delenv(MANO_DIR_ENV)
    local = no_env / "data" / "mano"
    local.mkdir(parents=True)
    shutil.copy(mano_dir / "MANO_RIGHT.pkl", local / "MANO_RIGHT.pkl")
    assert find_mano_file("right").resolve() == (local / "MANO_RIGHT.pkl").resolve()
    # An explicit folder is the only place looked at when given.
    with pytest.raises(MissingFileError):
        find_mano_file("right", no_env / "empty")


def test_env_dir_missing_file_falls_back_to_data_mano(
    no_env: Path, mano_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MANO_DIR_ENV, str(no_env / "nothing_here"))
    local = no_env / "data" / "mano"
    local.mkdir(parents=True)
    shutil.copy(mano_dir / "MANO_RIGHT.pkl", local / "MANO_RIGHT.pkl")
    assert find_mano_file("right").resolve() == (local / "MANO_RIGHT.pkl").resolve()


def test_missing_mano_says_where_to_get_and_put_it(no_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import handmesh.hand_model.build as build

    monkeypatch.setattr(build, "_CHECKOUT_ROOT", no_env)  # hide any real data/mano of this checkout
    with pytest.raises(MissingFileError) as e:
        build_hand_model("mano")
    msg = str(e.value)
    assert "MANO_RIGHT.pkl not found" in msg and "mano.is.tue.mpg.de" in msg
    assert "data/mano/" in msg and MANO_DIR_ENV in msg and "handmesh-mano convert" in msg


def test_npz_is_preferred_and_equal_to_the_pickle(tmp_path: Path, mano_dir: Path) -> None:
    d = tmp_path / "m"
    d.mkdir()
    for side in ("RIGHT", "LEFT"):
        shutil.copy(mano_dir / f"MANO_{side}.pkl", d / f"MANO_{side}.pkl")
        convert_mano_pickle(d / f"MANO_{side}.pkl")
    assert find_mano_file("right", d).suffix == ".npz" and find_mano_file("left", d).suffix == ".npz"
    g = torch.Generator().manual_seed(0)
    params = (torch.randn(2, 3, generator=g), torch.randn(2, 45, generator=g) * 0.3, torch.randn(2, 10, generator=g))
    for side in ("right", "left"):
        from_npz = build_hand_model("mano", side, d)
        from_pkl = build_hand_model("mano", side, mano_dir / f"MANO_{side.upper()}.pkl")
        assert from_npz.is_right == (side == "right") and from_npz.name == "mano"
        torch.testing.assert_close(from_npz(*params).vertices, from_pkl(*params).vertices, atol=0, rtol=0)


def test_build_options_pass_through(mano_dir: Path) -> None:
    m = build_hand_model("mano", "right", mano_dir, flat_hand_mean=True, use_pca=True, num_pca_comps=12)
    assert m.flat_hand_mean and m.use_pca and m.num_pca_comps == 12
    out = m(torch.zeros(1, 3), torch.zeros(1, 12), torch.zeros(1, 10))
    expected = load_mano_pickle(mano_dir / "MANO_RIGHT.pkl").v_template
    np.testing.assert_allclose(out.vertices[0].numpy(), expected, atol=1e-6)


def test_bad_names_and_sides(mano_dir: Path) -> None:
    with pytest.raises(ConfigError, match="expected one of open, mano"):
        build_hand_model("smpl")
    with pytest.raises(ConfigError, match="side"):
        build_hand_model("mano", "middle", mano_dir)
    with pytest.raises(ConfigError, match="other hand"):
        build_hand_model("mano", "left", mano_dir / "MANO_RIGHT.pkl")


def test_open_hand_if_built() -> None:
    from handmesh.hand_model.build import _ASSETS, OPEN_HAND_ASSET

    if not (_ASSETS / OPEN_HAND_ASSET).is_file():
        pytest.skip("the open hand asset (handmesh/assets/open_hand_right.npz) is not built yet")
    model = build_hand_model()  # the default: the open hand, right side
    assert model.name == "open" and model.is_right and model.num_vertices == 778 and model.faces.shape == (1552, 3)
    out = model(torch.zeros(2, 3), torch.zeros(2, 45), torch.zeros(2, 10))
    # Realistic size: wrist to middle fingertip about 18-19 cm (allow 16-21 cm).
    length = (out.joints[:, 12] - out.joints[:, 0]).norm(dim=-1)
    assert bool(((length > 0.16) & (length < 0.21)).all()), length


def test_open_side_selection_with_a_stand_in_asset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, right_arrays
) -> None:  # type: ignore[no-untyped-def]
    """The "open" path (asset file -> right model, mirrored for the left), independent of the shipped asset."""
    import handmesh.hand_model.build as build
    from handmesh.hand_model.mirror import mirror_axis_angle, mirror_points
    from handmesh.hand_model.model_file import write_model_file

    write_model_file(tmp_path / build.OPEN_HAND_ASSET, right_arrays.replace(name="open"))
    monkeypatch.setattr(build, "_ASSETS", tmp_path)
    right, left = build_hand_model("open", "right"), build_hand_model("open", "left")
    assert right.name == left.name == "open" and right.is_right and not left.is_right
    g = torch.Generator().manual_seed(3)
    go, hp = torch.randn(2, 3, generator=g), torch.randn(2, 45, generator=g) * 0.3
    betas = torch.randn(2, 10, generator=g)
    r, lo = right(go, hp, betas), left(mirror_axis_angle(go), mirror_axis_angle(hp), betas)
    torch.testing.assert_close(lo.joints, mirror_points(r.joints), atol=2e-6, rtol=0)
    (tmp_path / build.OPEN_HAND_ASSET).unlink()
    with pytest.raises(MissingFileError, match="open hand asset is missing"):
        build_hand_model("open")
