"""Keeping a tracked hand's side stable: a decaying vote with hysteresis.

A detector's handedness flickers on hard frames (a fist seen edge-on, motion blur). Each observation adds its score
to a running vote ``v`` in ``[-1, 1]`` (positive = right) that forgets old evidence geometrically::

    v <- decay * v + (1 - decay) * (+score if "right" else -score)

The reported side changes only when the vote crosses ``margin`` on the other side, so one or two contrary frames
cannot flip it, while a real change (a track handed over to the other hand) wins after a few observations: from a
confident vote ``v = 1`` contrary observations of score 1 cross ``-margin`` after
``ceil(log((1 - margin) / 2) / log(decay))`` frames (3 with the defaults).

A young track has no confident past to protect, and the landmarker can be unsure of the side on a hand's first
frames. So for its first ``warmup`` observations the side is the majority so far (the sign of the sum of signed
scores), without hysteresis: one unsure first frame no longer holds the track on the wrong side until the decaying
vote has crossed back (7 frames on a left-hand clip whose first frame was called right at 0.63, then left at 0.76
and 0.68).
"""

from __future__ import annotations

from handmesh.detection.types import Handedness


class HandednessVote:
    """Stable handedness from a stream of (label, score) observations.

    Args:
        decay: weight of the past vote per observation, in [0, 1). Default: 0.7.
        margin: how far past zero the vote must go to switch sides, in [0, 1). Default: 0.2.
        warmup: observations during which the side is the majority so far. Default: 5.
    """

    def __init__(self, decay: float = 0.7, margin: float = 0.2, warmup: int = 5) -> None:
        if not 0.0 <= decay < 1.0 or not 0.0 <= margin < 1.0:
            raise ValueError(f"HandednessVote: need 0 <= decay < 1 and 0 <= margin < 1, got {decay}, {margin}")
        self.decay = decay
        self.margin = margin
        self.warmup = int(warmup)
        self.vote = 0.0
        self.total = 0.0  # sum of the signed scores (the majority during warm-up)
        self.count = 0
        self.side: Handedness | None = None

    def update(self, side: Handedness, score: float = 1.0) -> Handedness:
        """Add one observation and return the (possibly unchanged) stable side.

        Args:
            side: the observed label.
            score: its confidence in [0, 1]. Default: 1.

        Returns:
            The stable side.
        """
        evidence = float(min(max(score, 0.0), 1.0)) * (1.0 if side == "right" else -1.0)
        self.count += 1
        self.total += evidence
        if self.side is None:  # the first observation decides outright
            self.vote, self.side = evidence, side
            return side
        self.vote = self.decay * self.vote + (1.0 - self.decay) * evidence
        if self.count <= self.warmup:
            if self.total != 0.0:
                self.side = "right" if self.total > 0 else "left"
            return self.side
        if self.side == "right" and self.vote < -self.margin:
            self.side = "left"
        elif self.side == "left" and self.vote > self.margin:
            self.side = "right"
        return self.side
