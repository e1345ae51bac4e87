"""Scene pieces: placement in the crop, intrinsics, procedural backgrounds, camera effects, JSON number text."""

from __future__ import annotations

import json

import numpy as np
import pytest

from handmesh.render.primitives import ellipsoid
from handmesh.synth.jsontext import format_rows
from handmesh.synth.scene import (
    CameraEffects,
    NoiseBank,
    place_in_view,
    procedural_background,
    sample_intrinsics,
)


@pytest.mark.parametrize("extent, offset", [(0.5, (0.0, 0.0)), (0.8, (10.0, -6.0)), (0.65, (-15.0, 12.0))])
def test_place_in_view_hits_the_requested_box(extent: float, offset: tuple[float, float]) -> None:
    v, _ = ellipsoid((0.08, 0.05, 0.03))
    rot = np.array([[0.8, 0, 0.6], [0, 1, 0], [-0.6, 0, 0.8]])
    v = v.astype(np.float64) @ rot.T
    K = np.array([[600.0, 0, 110.0], [0, 600.0, 114.0], [0, 0, 1]])
    t = place_in_view(v, K, (224, 224), extent, np.array(offset))
    p = v + t
    uv = p[:, :2] / p[:, 2:] * 600.0 + K[:2, 2]
    box = uv.max(0) - uv.min(0)
    assert abs(box.max() - extent * 224) < 1.0
    np.testing.assert_allclose((uv.max(0) + uv.min(0)) / 2, np.array([111.5, 111.5]) + offset, atol=1.0)


def test_intrinsics_are_freihand_like() -> None:
    rng = np.random.default_rng(0)
    Ks = np.stack([sample_intrinsics(rng, 224) for _ in range(500)])
    assert np.all((Ks[:, 0, 0] >= 450) & (Ks[:, 0, 0] <= 850))
    np.testing.assert_array_equal(Ks[:, 0, 0], Ks[:, 1, 1])
    assert np.all(np.abs(Ks[:, :2, 2] - 111.5) <= 18 + 1e-9)
    np.testing.assert_array_equal(Ks[:, 2], np.broadcast_to([0, 0, 1], (500, 3)))


def test_backgrounds_are_deterministic_and_varied() -> None:
    a = procedural_background(np.random.default_rng(5), (224, 224))
    b = procedural_background(np.random.default_rng(5), (224, 224))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (224, 224, 3) and a.dtype == np.uint8
    means = np.array([procedural_background(np.random.default_rng(s), (64, 96)).mean((0, 1)) for s in range(40)])
    assert means.std(0).min() > 15  # colours differ from seed to seed
    stds = [procedural_background(np.random.default_rng(s), (64, 96)).std() for s in range(40)]
    assert max(stds) > 30 and min(stds) < max(stds) / 2  # from smooth gradients to busy patterns


def test_camera_effects_are_mild_and_deterministic() -> None:
    img = procedural_background(np.random.default_rng(1), (224, 224))
    rng = np.random.default_rng(3)
    fx = CameraEffects(gain=1.1, bias=-5.0, blur_sigma=0.8, noise_sigma=4.0, jpeg_quality=80)
    out1 = fx.apply(np.random.default_rng(3), img)
    out2 = fx.apply(rng, img)
    np.testing.assert_array_equal(out1, out2)
    diff = out1.astype(float) - np.clip(img.astype(float) * 1.1 - 5, 0, 255)
    assert 1.0 < np.abs(diff).mean() < 12.0
    none = CameraEffects(1.0, 0.0, 0.0, 0.0, 90).apply(rng, img)
    np.testing.assert_array_equal(none, img)


def test_noise_bank_is_unit_gaussian() -> None:
    w = NoiseBank(256).window(np.random.default_rng(0), 100, 120)
    assert w.shape == (100, 120, 3)
    assert abs(float(w.mean())) < 0.05 and abs(float(w.std()) - 1) < 0.05


@pytest.mark.parametrize("decimals", [0, 3, 6, 7])
def test_format_rows_parses_back_to_the_same_doubles(decimals: int) -> None:
    rng = np.random.default_rng(decimals)
    v = np.round(rng.normal(0, 0.4, (50, 3)) * rng.choice([0.0, 1.0, 100.0], (50, 1)), decimals)
    v[0, 0] = -0.0
    text = format_rows(v, decimals)
    np.testing.assert_array_equal(np.array(json.loads(text)), v + 0.0)
    assert format_rows(np.array([[0.25, -1.0]]), 6) == json.dumps([[0.25, -1.0]])
    with pytest.raises(ValueError, match="non-finite"):
        format_rows(np.array([[np.nan]]), 6)
