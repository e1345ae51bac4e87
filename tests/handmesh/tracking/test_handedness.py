"""Handedness vote: flicker is ignored, a sustained change wins."""

from __future__ import annotations

import pytest

from handmesh.tracking import HandednessVote


def test_first_observation_decides() -> None:
    assert HandednessVote().update("left", 0.55) == "left"


def test_single_contrary_frames_do_not_flip() -> None:
    vote = HandednessVote()
    for _ in range(5):
        vote.update("right", 0.95)
    for _ in range(3):
        assert vote.update("left", 0.9) == "right"
        assert vote.update("right", 0.9) == "right"


def test_sustained_change_flips_after_a_few_frames() -> None:
    vote = HandednessVote(decay=0.7, margin=0.2)
    for _ in range(10):
        vote.update("right", 1.0)
    sides = [vote.update("left", 1.0) for _ in range(4)]
    assert sides == ["right", "right", "left", "left"]  # from v ~ 1: 2 * 0.7**n - 1 < -0.2 at n = 3


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="decay"):
        HandednessVote(decay=1.0)
