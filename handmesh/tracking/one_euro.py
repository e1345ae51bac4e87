"""The One Euro filter (Casiez, Roussel and Vogel, "1 Euro Filter: A Simple Speed-based Low-pass Filter for Noisy
Input in Interactive Systems", CHI 2012), on numpy arrays with timestamps, and its use on rotations.

Per sample, with ``dt`` the time since the previous one (eq. numbers from the paper)::

    alpha(fc) = 1 / (1 + tau / dt),  tau = 1 / (2 pi fc)         smoothing factor of a first-order low-pass
    dx   = (x - x_hat_prev) / dt                                  speed of the signal
    dx_hat = lowpass(dx, alpha(d_cutoff))                         smoothed speed
    fc   = min_cutoff + beta * |dx_hat|                           cutoff rises with speed
    x_hat  = lowpass(x, alpha(fc))

At rest the cutoff is ``min_cutoff`` (strong smoothing, little jitter); when the signal moves, the cutoff rises and
the lag shrinks. Tuning (paper, section 4): set ``beta = 0``, lower ``min_cutoff`` until jitter is acceptable, then
raise ``beta`` until lag on fast motion is acceptable. Speeds, cutoffs and ``beta`` are per element: ``beta`` is in
1/(units of x), so each quantity (pixels, metres, 6D entries) needs its own setting; :data:`SMOOTHING_PRESETS` holds
starting points for the hand's parameters.

Rotations. Averaging rotation matrices element by element leaves SO(3); filtering axis-angle or quaternions breaks
at their discontinuities (angle pi; the q/-q double cover). :class:`RotationFilter` filters the continuous 6D
representation (Zhou et al., CVPR 2019: the first two columns of R, 6 numbers per rotation) element by element and
maps the result back with Gram-Schmidt, so the output is always a proper rotation and no wrap-around exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroParams:
    """Settings of a One Euro filter.

    Attributes:
        min_cutoff: cutoff frequency at rest, Hz (lower = smoother, more lag). Default: 1.0.
        beta: speed coefficient, 1/(units of x) (higher = less lag when moving). Default: 0.0.
        d_cutoff: cutoff for the speed estimate, Hz. Default: 1.0 (the paper's value).
    """

    min_cutoff: float = 1.0
    beta: float = 0.0
    d_cutoff: float = 1.0

    def __post_init__(self) -> None:
        if self.min_cutoff <= 0 or self.d_cutoff <= 0 or self.beta < 0:
            raise ValueError(
                f"OneEuroParams: need min_cutoff > 0, d_cutoff > 0, beta >= 0; got min_cutoff={self.min_cutoff}, "
                f"beta={self.beta}, d_cutoff={self.d_cutoff}"
            )


SMOOTHING_PRESETS: dict[str, OneEuroParams] = {
    # 2D keypoints / crop boxes in pixels: hands move at up to ~1000 px/s in a 640x480 stream.
    "keypoints2d": OneEuroParams(min_cutoff=1.5, beta=0.01),
    # Translation in metres: a hand moves at up to ~1 m/s; beta 5 lifts the cutoff by 5 Hz at 1 m/s.
    "translation": OneEuroParams(min_cutoff=1.0, beta=5.0),
    # 6D rotation entries (unitless, in [-1, 1]); they change at up to a few units per second.
    "rotation": OneEuroParams(min_cutoff=1.5, beta=0.5),
    # 6D rotations of a hand fitted to landmarks: the fit is far steadier than the network alone (jitter 1.9x the
    # true motion unsmoothed, against 3-9x), so a lighter filter suffices and lags less (sample clip: 2D error 0.037
    # against 0.040 of the hand's box diagonal with the "rotation" preset, jitter 1.36x against 1.22x).
    "fitted_rotation": OneEuroParams(min_cutoff=3.0, beta=1.0),
    # Shape parameters: a person's hand does not change shape, so smooth strongly.
    "betas": OneEuroParams(min_cutoff=0.3, beta=0.0),
}
"""Starting points per quantity (tune per camera and frame rate as the module docstring describes)."""


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One Euro filter over arrays of any fixed shape.

    Args:
        params: filter settings. Default: ``OneEuroParams()`` (min_cutoff 1 Hz, beta 0, d_cutoff 1 Hz).
        rate: samples per second assumed when a call gives no timestamp. Default: 30.

    Example::

        f = OneEuroFilter(OneEuroParams(min_cutoff=1.0, beta=0.01))
        for t, x in stream:          # t in seconds
            x_smooth = f(x, t)
    """

    def __init__(self, params: OneEuroParams | None = None, rate: float = 30.0) -> None:
        self.params = params or OneEuroParams()
        if rate <= 0:
            raise ValueError(f"OneEuroFilter: rate must be positive, got {rate}")
        self.rate = float(rate)
        self.reset()

    def reset(self) -> None:
        """Forget the history: the next sample passes through unchanged."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    @property
    def value(self) -> np.ndarray | None:
        """The last filtered value, or None before the first sample."""
        return self._x

    def __call__(self, x: np.ndarray, t: float | None = None) -> np.ndarray:
        """Filter one sample.

        Args:
            x: the sample, any shape (the same on every call until :meth:`reset`).
            t: its time in seconds. Default: None (previous time + 1 / rate). A time not after the previous one
                counts as a microsecond later (so a repeated timestamp barely moves the output).

        Returns:
            The filtered sample, float64, same shape as ``x``.
        """
        x = np.asarray(x, dtype=np.float64)
        if self._x is None:
            self._x, self._dx = x.copy(), np.zeros_like(x)
            self._t = 0.0 if t is None else float(t)
            return self._x.copy()
        if x.shape != self._x.shape:
            raise ValueError(f"OneEuroFilter: sample shape {x.shape} differs from the previous {self._x.shape}")
        assert self._t is not None and self._dx is not None
        t_now = self._t + 1.0 / self.rate if t is None else float(t)
        dt = max(t_now - self._t, 1e-6)
        p = self.params
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(p.d_cutoff, dt) * (dx - self._dx)
        cutoff = p.min_cutoff + p.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        self._t = t_now
        return self._x.copy()


def rotation_to_6d(R: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` rotations -> ``(..., 6)``: first column then second column (the project's 6D convention)."""
    R = np.asarray(R, dtype=np.float64)
    return np.concatenate([R[..., :, 0], R[..., :, 1]], axis=-1)


def rotation_from_6d(x: np.ndarray) -> np.ndarray:
    """``(..., 6)`` -> ``(..., 3, 3)`` by Gram-Schmidt: b1 = a1/|a1|, b2 = unit(a2 - (b1.a2) b1), b3 = b1 x b2."""
    x = np.asarray(x, dtype=np.float64)
    a1, a2 = x[..., 0:3], x[..., 3:6]
    b1 = a1 / np.maximum(np.linalg.norm(a1, axis=-1, keepdims=True), 1e-12)
    a2 = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
    b2 = a2 / np.maximum(np.linalg.norm(a2, axis=-1, keepdims=True), 1e-12)
    b3 = np.cross(b1, b2)
    return np.stack([b1, b2, b3], axis=-1)


class RotationFilter:
    """One Euro filter for rotation matrices ``(..., 3, 3)``, through the 6D representation (module docstring).

    Args:
        params: settings for the 6D entries. Default: ``SMOOTHING_PRESETS["rotation"]``.
        rate: samples per second assumed without timestamps. Default: 30.
    """

    def __init__(self, params: OneEuroParams | None = None, rate: float = 30.0) -> None:
        self._filter = OneEuroFilter(params or SMOOTHING_PRESETS["rotation"], rate)

    def reset(self) -> None:
        """Forget the history."""
        self._filter.reset()

    def __call__(self, R: np.ndarray, t: float | None = None) -> np.ndarray:
        """Filter one sample of rotations ``(..., 3, 3)``; returns proper rotations of the same shape."""
        return rotation_from_6d(self._filter(rotation_to_6d(R), t))


@dataclass
class HandParamsFilter:
    """One Euro filters for one hand's parameters, each with its own settings (:data:`SMOOTHING_PRESETS`).

    Call with whichever of the parameters you have; each keeps its own history. Create one per tracked hand and
    :meth:`reset` it when the hand is lost. For still images, do not filter at all.

    Args:
        rate: samples per second assumed without timestamps. Default: 30.
        rotation: settings for global orientation and joint rotations (6D entries).
        translation: settings for the camera-frame translation (metres).
        betas: settings for the shape parameters.
        keypoints2d: settings for 2D keypoints (pixels).
    """

    rate: float = 30.0
    rotation: OneEuroParams = SMOOTHING_PRESETS["rotation"]
    translation: OneEuroParams = SMOOTHING_PRESETS["translation"]
    betas: OneEuroParams = SMOOTHING_PRESETS["betas"]
    keypoints2d: OneEuroParams = SMOOTHING_PRESETS["keypoints2d"]

    def __post_init__(self) -> None:
        self._global = RotationFilter(self.rotation, self.rate)
        self._pose = RotationFilter(self.rotation, self.rate)
        self._transl = OneEuroFilter(self.translation, self.rate)
        self._betas = OneEuroFilter(self.betas, self.rate)
        self._kp = OneEuroFilter(self.keypoints2d, self.rate)

    def reset(self) -> None:
        """Forget every history (the hand was lost or changed identity)."""
        for f in (self._global, self._pose, self._transl, self._betas, self._kp):
            f.reset()

    def __call__(
        self,
        t: float | None = None,
        *,
        global_orient: np.ndarray | None = None,
        hand_pose: np.ndarray | None = None,
        betas: np.ndarray | None = None,
        translation: np.ndarray | None = None,
        keypoints2d: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Filter one frame's parameters.

        Args:
            t: time in seconds. Default: None (1 / rate after the previous call).
            global_orient: ``(3, 3)`` rotation.
            hand_pose: ``(15, 3, 3)`` joint rotations.
            betas: ``(10,)`` shape.
            translation: ``(3,)`` metres.
            keypoints2d: ``(21, 2)`` pixels.

        Returns:
            The filtered values under the same names, for those given.
        """
        out: dict[str, np.ndarray] = {}
        if global_orient is not None:
            out["global_orient"] = self._global(global_orient, t)
        if hand_pose is not None:
            out["hand_pose"] = self._pose(hand_pose, t)
        if betas is not None:
            out["betas"] = self._betas(betas, t)
        if translation is not None:
            out["translation"] = self._transl(translation, t)
        if keypoints2d is not None:
            out["keypoints2d"] = self._kp(keypoints2d, t)
        return out
