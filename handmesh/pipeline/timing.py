"""Per-stage wall-clock timings of the pipeline, for the demo's on-screen read-out and ``handmesh-bench pipeline``.

Stages, in the order a frame passes through them (:data:`STAGES`):

=============  ========================================================================================
``capture``    reading or decoding the frame (recorded by the caller: the demo, the benchmark)
``detect``     hand detection (MediaPipe's landmarker) and, in video mode, matching its hands to the tracks
``crop``       warping each hand's square crop to the network's input (left hands mirrored)
``network``    normalising the crops and running the network (encoder, head and, inside it, the hand model)
``fit``        fitting the hand model to the landmarks (``refine="landmarks"``), all hands of the frame at once
``hand_model`` un-mirroring, the camera solve with ``K``, smoothing and re-posing the hand model
``render``     drawing the overlay (:meth:`~handmesh.api.HandEstimator.render`)
=============  ========================================================================================

Times are milliseconds of ``time.perf_counter``; a stage that did not run in a frame (no hand, nothing drawn)
records nothing for that frame, so its mean is over the frames where it ran.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

STAGES: tuple[str, ...] = ("capture", "detect", "crop", "network", "fit", "hand_model", "render")
"""Stage names in pipeline order."""


class StageTimer:
    """Accumulates per-stage times: the last value, the running total and count, for each stage name.

    Example::

        timer = StageTimer()
        with timer.stage("detect"):
            ...
        timer.record("capture", 3.2)
        print(timer.summary())         # "capture 3.2  detect 7.9 ... ms"
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything recorded."""
        self.last: dict[str, float] = {}
        """The most recent time of each stage, ms."""
        self.total: dict[str, float] = {}
        """Sum of every recorded time per stage, ms."""
        self.count: dict[str, int] = {}
        """How many times each stage was recorded."""

    def record(self, stage: str, ms: float) -> None:
        """Add one measurement of ``stage`` (milliseconds)."""
        ms = float(ms)
        self.last[stage] = ms
        self.total[stage] = self.total.get(stage, 0.0) + ms
        self.count[stage] = self.count.get(stage, 0) + 1

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block and :meth:`record` it under ``name`` (also when the block raises)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.record(name, (time.perf_counter() - t0) * 1e3)

    def mean_ms(self, stage: str) -> float:
        """Mean time of ``stage`` over the times it ran, ms (0 if it never ran)."""
        n = self.count.get(stage, 0)
        return self.total.get(stage, 0.0) / n if n else 0.0

    def stages(self) -> list[str]:
        """Recorded stage names: the known ones in pipeline order, then any others in recording order."""
        known = [s for s in STAGES if s in self.count]
        return known + [s for s in self.count if s not in STAGES]

    def means(self) -> dict[str, float]:
        """``{stage: mean ms}`` for every recorded stage, in :meth:`stages` order."""
        return {s: self.mean_ms(s) for s in self.stages()}

    def summary(self, which: str = "mean") -> str:
        """One line ``"capture 3.1  detect 7.9  ... ms"``.

        Args:
            which: ``"mean"`` (over all frames) or ``"last"`` (the latest frame). Default: ``"mean"``.
        """
        if which not in ("mean", "last"):
            raise ValueError(f"StageTimer.summary: which must be 'mean' or 'last', got {which!r}")
        values = self.means() if which == "mean" else {s: self.last[s] for s in self.stages()}
        if not values:
            return "no stages timed"
        return "  ".join(f"{s} {v:.1f}" for s, v in values.items()) + " ms"
