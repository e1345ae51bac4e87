"""Checks on the licensed MANO files themselves (skipped unless data/mano or $HANDMESH_MANO_DIR holds them)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handmesh.hand_model.build import build_hand_model, find_mano_file
from handmesh.hand_model.mano_pickle import MANO_SHAPES, read_mano_pickle
from handmesh.hand_model.mirror import mirror_axis_angle, mirror_points
from handmesh.hand_model.winding import boundary_edge_count, signed_volume

pytestmark = pytest.mark.needs_mano


def test_real_files_load_without_chumpy() -> None:
    for side in ("right", "left"):
        path = find_mano_file(side)
        if path.suffix != ".pkl":
            path = path.with_suffix(".pkl")
        if not path.is_file():
            pytest.skip(f"{path} not present")
        raw = read_mano_pickle(path)
        for key, shape in MANO_SHAPES.items():
            assert np.shape(raw[key]) == shape, key


def test_real_models_shape_winding_and_size() -> None:
    for side in ("right", "left"):
        model = build_hand_model("mano", side)
        assert model.num_vertices == 778 and tuple(model.faces.shape) == (1538, 3)
        assert boundary_edge_count(model.faces.numpy()) == 16
        assert signed_volume(model.v_template.numpy(), model.faces.numpy()) > 0
        out = model(torch.zeros(1, 3), torch.zeros(1, 45), torch.zeros(1, 10))
        length = float((out.joints[0, 12] - out.joints[0, 0]).norm())
        assert 0.15 < length < 0.22, length


def test_real_left_is_close_to_the_mirrored_right() -> None:
    """MANO's left model is (nearly) the right one mirrored; after the shapedirs fix, betas agree too."""
    try:
        right, left = build_hand_model("mano", "right"), build_hand_model("mano", "left")
    except Exception as e:  # the left file may be absent
        pytest.skip(str(e))
    g = torch.Generator().manual_seed(0)
    go, hp = torch.randn(2, 3, generator=g) * 0.3, torch.randn(2, 45, generator=g) * 0.3
    betas = torch.randn(2, 10, generator=g) * 2
    r = right(go, hp, betas)
    lo = left(mirror_axis_angle(go), mirror_axis_angle(hp), betas)
    err = (lo.vertices - mirror_points(r.vertices)).norm(dim=-1).max()
    assert err < 0.01, f"left vs mirrored right differ by up to {err * 1000:.1f} mm"
