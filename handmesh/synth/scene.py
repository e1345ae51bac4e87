"""Everything around the hand in a synthetic image: intrinsics, placement in the crop, procedural backgrounds,
occluders, lighting, skin tone, and the camera's blur, noise and JPEG compression. Nothing is downloaded: every
texture is made from random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handmesh.geometry.projection import project_pinhole
from handmesh.render import SKIN_TONES, Light, Mesh
from handmesh.render.primitives import box, ellipsoid
from handmesh.synth.poses import rotation_matrix

# FreiHAND-like crops: 224 px images whose focal lengths lie mostly between ~450 and ~900 px, principal point near
# the centre (the crops are cut around the hand, so it moves a little).
FOCAL_RANGE_224 = (450.0, 850.0)
PRINCIPAL_POINT_SIGMA_224 = 6.0
# The hand's projected bounding box: longest side as a fraction of the image, and the centre's offset.
EXTENT_RANGE = (0.5, 0.85)
CENTRE_SIGMA = 0.04


def sample_intrinsics(rng: np.random.Generator, size: int) -> np.ndarray:
    """``(3, 3)`` intrinsics of a square crop of ``size`` pixels: fx = fy drawn log-uniformly from
    :data:`FOCAL_RANGE_224` (scaled by size / 224), principal point near the centre."""
    s = size / 224.0
    lo, hi = FOCAL_RANGE_224
    f = float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) * s
    sigma = PRINCIPAL_POINT_SIGMA_224 * s
    c = (size - 1) / 2.0 + np.clip(rng.normal(0.0, sigma, 2), -3 * sigma, 3 * sigma)
    return np.array([[f, 0.0, c[0]], [0.0, f, c[1]], [0.0, 0.0, 1.0]])


def place_in_view(
    vertices: np.ndarray,
    K: np.ndarray,
    size: tuple[int, int],
    extent_frac: float,
    centre_offset: np.ndarray,
    margin: float = 2.0,
) -> np.ndarray:
    """Translation that puts a (posed, untranslated) mesh in front of the camera with its projected bounding box's
    longest side ``extent_frac`` of the image and its centre at the image centre plus ``centre_offset`` pixels,
    moved inwards where the box would come closer than ``margin`` pixels to the image border.

    Args:
        vertices: ``(V, 3)`` metres, camera axes.
        K: ``(3, 3)`` intrinsics.
        size: ``(H, W)``.
        extent_frac: target longest side of the box as a fraction of ``max(H, W)``.
        centre_offset: ``(2,)`` pixels.
        margin: smallest distance between the box and the image border, pixels. Default: 2.

    Returns:
        ``(3,)`` translation in metres.
    """
    h, w = size
    f = 0.5 * (K[0, 0] + K[1, 1])
    target_px = extent_frac * max(h, w)
    target_c = np.array([(w - 1) / 2.0, (h - 1) / 2.0]) + centre_offset
    c = vertices.mean(0)
    ext = np.max(vertices[:, :2].max(0) - vertices[:, :2].min(0))
    z = f * ext / target_px + (c[2] - vertices[:, 2].min())
    t = np.array([(target_c[0] - K[0, 2]) * z / K[0, 0] - c[0], (target_c[1] - K[1, 2]) * z / K[1, 1] - c[1], z - c[2]])
    # Perspective makes the first guess slightly off: correct size and centre from the actual projection. The
    # centre is then pulled in where the box would leave the image (FreiHAND crops show the whole hand).
    limit = np.array([w - 1.0, h - 1.0])
    for _ in range(3):
        uv = project_pinhole(vertices + t, K)
        lo, hi = uv.min(0), uv.max(0)
        zc = c[2] + t[2]
        t[2] += zc * np.max(hi - lo) / target_px - zc
        uv = project_pinhole(vertices + t, K)
        lo, hi = uv.min(0), uv.max(0)
        half = (hi - lo) / 2.0
        want = np.clip(target_c, half + margin, np.maximum(limit - half - margin, half + margin))
        t[:2] += (want - (lo + hi) / 2.0) * (c[2] + t[2]) / K[[0, 1], [0, 1]]
    return t


def _ramp(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """``(H, W)`` float32 in 0-1 rising linearly along a random direction."""
    ang = rng.uniform(0, 2 * np.pi)
    t = (
        np.float32(np.cos(ang) / w) * np.arange(w, dtype=np.float32)[None, :]
        + np.float32(np.sin(ang) / h) * np.arange(h, dtype=np.float32)[:, None]
    )
    return (t - t.min()) / max(float(t.max() - t.min()), 1e-6)


def _colourize(t: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Map ``t (H, W)`` in 0-1 through a piecewise-linear ramp over ``colours (k, 3)`` (k >= 2): ``(H, W, 3)``
    uint8. A 256-entry lookup table avoids per-pixel arithmetic on 3-channel arrays."""
    import cv2

    colours = np.asarray(colours, np.float64)
    pos = np.linspace(0.0, 1.0, len(colours))
    x = np.linspace(0.0, 1.0, 256)
    lut = np.stack([np.interp(x, pos, colours[:, c]) for c in range(3)], -1)
    lut = np.clip(lut + 0.5, 0, 255).astype(np.uint8).reshape(256, 1, 3)
    idx = np.clip(t * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.LUT(cv2.merge([idx, idx, idx]), lut)


def _gradient(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    return _colourize(_ramp(rng, h, w), rng.integers(0, 256, (2, 3)))


def _value_noise(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    import cv2

    acc = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for cells in rng.choice([2, 3, 4, 6, 8, 12, 16, 24, 32], size=3, replace=False):
        grid = rng.random((int(cells), int(cells)), dtype=np.float32)
        acc += np.float32(amp) * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= rng.uniform(0.35, 0.7)
    return _colourize(acc * np.float32(1.0 / total), rng.integers(0, 256, (3, 3)))


def _shapes(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    import cv2

    img = _gradient(rng, h, w)
    for _ in range(int(rng.integers(4, 16))):
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = rng.integers(0, 4)
        x, y = int(rng.integers(-w // 4, w)), int(rng.integers(-h // 4, h))
        s = int(rng.integers(max(4, min(h, w) // 16), max(6, min(h, w) // 2)))
        if kind == 0:
            cv2.rectangle(img, (x, y), (x + s, y + int(s * rng.uniform(0.3, 2))), col, -1)
        elif kind == 1:
            cv2.circle(img, (x, y), s // 2, col, -1, cv2.LINE_AA)
        elif kind == 2:
            cv2.ellipse(
                img,
                (x, y),
                (s // 2, max(1, int(s * rng.uniform(0.1, 0.5)))),
                float(rng.uniform(0, 180)),
                0,
                360,
                col,
                -1,
                cv2.LINE_AA,
            )
        else:
            pts = rng.integers(-w // 4, w + w // 4, (int(rng.integers(2, 5)), 2)).astype(np.int32)
            cv2.polylines(img, [pts], False, col, int(rng.integers(1, max(2, w // 40))), cv2.LINE_AA)
    return img


def _stripes(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    ang = rng.uniform(0, np.pi)
    period = rng.uniform(6, max(8.0, min(h, w) / 3)) * (min(h, w) / 224.0)
    xs, ys = np.arange(w, dtype=np.float32)[None, :], np.arange(h, dtype=np.float32)[:, None]
    u = np.float32(np.cos(ang) / period) * xs + np.float32(np.sin(ang) / period) * ys
    if rng.random() < 0.5:
        t = 0.5 + 0.5 * np.sin(np.float32(2 * np.pi) * u)
    else:  # checkerboard
        v = np.float32(-np.sin(ang) / period) * xs + np.float32(np.cos(ang) / period) * ys
        t = ((np.floor(u) + np.floor(v)) % 2).astype(np.float32)
    return _colourize(t, rng.integers(0, 256, (2, 3)))


BACKGROUND_KINDS = ("gradient", "noise", "shapes", "stripes")


def procedural_background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A random texture-free background: a colour gradient, multi-octave value noise, random shapes, or stripes
    and checkerboards, often blended with a second one and softened.

    Args:
        rng: the random stream.
        size: ``(H, W)``.

    Returns:
        ``(H, W, 3)`` uint8 RGB.
    """
    import cv2

    h, w = size
    makers = (_gradient, _value_noise, _shapes, _stripes)
    img = makers[int(rng.integers(0, 4))](rng, h, w)
    if rng.random() < 0.4:
        other = makers[int(rng.integers(0, 4))](rng, h, w)
        mix = rng.uniform(0.2, 0.6)
        img = cv2.addWeighted(img, 1.0 - mix, other, mix, 0.0)
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 2.5) * max(h, w) / 224.0)
    return img


def sample_skin(rng: np.random.Generator) -> np.ndarray:
    """``(3,)`` RGB 0-1: one of :data:`~handmesh.render.SKIN_TONES` with a small per-channel jitter."""
    tones = np.array(list(SKIN_TONES.values()))
    base = tones[int(rng.integers(0, len(tones)))]
    return np.clip(base * rng.uniform(0.9, 1.1) + rng.normal(0.0, 0.025, 3), 0.05, 1.0)


def sample_light(rng: np.random.Generator) -> Light:
    """A random directional light from the camera's side of the hand, with ambient and a mild highlight."""
    d = np.array([rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0), -rng.uniform(0.3, 1.5)])
    tint = np.clip(1.0 + rng.normal(0.0, 0.06, 3), 0.8, 1.15)
    return Light(
        direction=d,
        color=tint,
        ambient=rng.uniform(0.25, 0.55),
        diffuse=rng.uniform(0.45, 0.9),
        specular=rng.uniform(0.0, 0.25),
        shininess=rng.uniform(8.0, 40.0),
    )


def sample_occluder(rng: np.random.Generator, joints: np.ndarray) -> Mesh:
    """A box or ellipsoid 2-6 cm across, floating 1-8 cm in front of a random keypoint (camera frame)."""
    anchor = joints[int(rng.integers(0, len(joints)))]
    size = rng.uniform(0.02, 0.06, 3)
    centre = anchor + np.array([rng.normal(0, 0.015), rng.normal(0, 0.015), -rng.uniform(0.01, 0.08)])
    if rng.random() < 0.5:
        v, f = box(tuple(size))
    else:
        v, f = ellipsoid(tuple(size / 2), rings=10, segments=16)
    R = rotation_matrix(rng.normal(0.0, 1.0, 3))
    return Mesh(v.astype(np.float64) @ R.T + centre, f, color=rng.uniform(0.05, 0.95, 3))


class NoiseBank:
    """A fixed field of Gaussian noise that images take random windows of.

    Drawing fresh Gaussian numbers for every pixel of every image costs more than rendering the hand; a window at
    a random offset (and sign) of one large field, made once from a fixed seed, is as good for augmentation and
    still deterministic.

    Args:
        side: the field is ``(side, side, 3)`` float32. Default: 1024.
    """

    def __init__(self, side: int = 1024) -> None:
        self.field = np.random.default_rng(0x5EED).standard_normal((side, side, 3), dtype=np.float32)

    def window(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        """A ``(h, w, 3)`` float32 view of unit-variance noise (h, w must not exceed the field's side)."""
        side = self.field.shape[0]
        y, x = int(rng.integers(0, side - h + 1)), int(rng.integers(0, side - w + 1))
        return self.field[y : y + h, x : x + w]


_NOISE: NoiseBank | None = None


def noise_bank() -> NoiseBank:
    """The process's :class:`NoiseBank` (made on first use)."""
    global _NOISE
    if _NOISE is None:
        _NOISE = NoiseBank()
    return _NOISE


@dataclass
class CameraEffects:
    """Post-processing of one image: brightness/contrast, optional blur, optional sensor noise, JPEG quality."""

    gain: float
    bias: float
    blur_sigma: float
    noise_sigma: float
    jpeg_quality: int

    @classmethod
    def sample(cls, rng: np.random.Generator) -> CameraEffects:
        """Mild random effects: gain 0.85-1.15, bias -15..15, blur (40%) sigma 0.3-1.1 px, noise (50%) sigma
        1-6 grey levels, JPEG quality 70-95."""
        return cls(
            gain=rng.uniform(0.85, 1.15),
            bias=rng.uniform(-15, 15),
            blur_sigma=rng.uniform(0.3, 1.1) if rng.random() < 0.4 else 0.0,
            noise_sigma=rng.uniform(1.0, 6.0) if rng.random() < 0.5 else 0.0,
            jpeg_quality=int(rng.integers(70, 96)),
        )

    def apply(self, rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
        """``(H, W, 3)`` uint8 -> uint8 with gain, bias, blur and noise applied (JPEG is left to the writer)."""
        import cv2

        img = cv2.addWeighted(rgb, self.gain, rgb, 0.0, self.bias)  # saturating uint8 arithmetic
        if self.blur_sigma > 0:
            img = cv2.GaussianBlur(img, (0, 0), self.blur_sigma)
        if self.noise_sigma > 0:
            h, w = img.shape[:2]
            noise = noise_bank().window(rng, h, w)
            sign = 1.0 if rng.random() < 0.5 else -1.0
            f = img.astype(np.float32)
            cv2.scaleAdd(noise, sign * self.noise_sigma, f, f)
            img = np.clip(f + 0.5, 0, 255).astype(np.uint8)
        return img
