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


def test_a_young_track_takes_the_majority_so_far() -> None:
    """The observations of a left hand's first frames on a real clip: an unsure "right" first, then mostly "left".
    The young track follows the majority (one wrong frame); with the hysteresis from the start it stayed wrong for
    seven."""
    seen = [("right", 0.63), ("left", 0.76), ("left", 0.68), ("right", 0.56), ("left", 0.51), ("right", 0.69)]
    seen += [("left", 0.8)] * 6
    young = HandednessVote()
    assert [young.update(*o) for o in seen].count("right") == 1
    sticky = HandednessVote(warmup=0)
    assert [sticky.update(*o) for o in seen].count("right") == 7
    # After the warm-up the hysteresis holds again: single contrary frames do not flip it.
    assert young.update("right", 0.9) == "left" and young.update("left", 0.9) == "left"


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="decay"):
        HandednessVote(decay=1.0)
