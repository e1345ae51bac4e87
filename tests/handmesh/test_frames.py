"""Frame normalisation: every accepted layout becomes (H, W, 3) uint8 RGB; bad frames give clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from handmesh.errors import DataError
from handmesh.frames import as_rgb_uint8, downscale


def test_rgb_uint8_passes_through_without_copy() -> None:
    frame = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    assert as_rgb_uint8(frame) is frame


@pytest.mark.parametrize("shape", [(4, 5), (4, 5, 1)])
def test_grayscale_is_replicated(shape: tuple[int, ...]) -> None:
    gray = np.arange(20, dtype=np.uint8).reshape(shape)
    out = as_rgb_uint8(gray)
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray.reshape(4, 5))


def test_rgba_drops_alpha() -> None:
    rgba = np.random.default_rng(1).integers(0, 256, (3, 4, 4), dtype=np.uint8)
    np.testing.assert_array_equal(as_rgb_uint8(rgba), rgba[..., :3])


def test_uint16_scales_full_range() -> None:
    img = np.array([[0, 257, 65535, 32896]], dtype=np.uint16)
    out = as_rgb_uint8(img)
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 255, 128])


def test_float_unit_range_and_errors() -> None:
    img = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    np.testing.assert_array_equal(as_rgb_uint8(img)[0, :, 1], [0, 128, 255])
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        as_rgb_uint8(np.full((2, 2, 3), 200.0))
    with pytest.raises(DataError, match="NaN"):
        as_rgb_uint8(np.full((2, 2, 3), np.nan))


def test_bool_and_small_ints() -> None:
    np.testing.assert_array_equal(as_rgb_uint8(np.array([[True, False]]))[0, :, 0], [255, 0])
    np.testing.assert_array_equal(as_rgb_uint8(np.array([[3, 250]], dtype=np.int64))[0, :, 2], [3, 250])
    with pytest.raises(DataError, match="int32"):
        as_rgb_uint8(np.array([[-1, 300]], dtype=np.int32))


@pytest.mark.parametrize("shape", [(0, 5, 3), (5, 0), (0, 0, 3)])
def test_empty_frame_is_an_error(shape: tuple[int, ...]) -> None:
    with pytest.raises(DataError, match="empty"):
        as_rgb_uint8(np.zeros(shape, dtype=np.uint8))


@pytest.mark.parametrize("shape", [(5,), (2, 3, 2), (2, 3, 5), (1, 2, 3, 3)])
def test_bad_shapes_name_the_frame(shape: tuple[int, ...]) -> None:
    with pytest.raises(DataError, match=r"^frame: expected an image"):
        as_rgb_uint8(np.zeros(shape, dtype=np.uint8))


def test_non_contiguous_view_becomes_contiguous() -> None:
    bgr = np.random.default_rng(2).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    view = bgr[..., ::-1]
    out = as_rgb_uint8(view)
    assert out.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(out, view)


def test_downscale_limits_the_longer_side() -> None:
    frame = np.zeros((3000, 4000, 3), dtype=np.uint8)
    small, factor = downscale(frame, 1280)
    assert small.shape == (960, 1280, 3)
    assert factor == pytest.approx(3.125)
    same, one = downscale(small, 1280)
    assert same is small and one == 1.0
