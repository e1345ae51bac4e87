"""The open hand's skeleton: MANO's 16-joint tree, placed in MANO's canonical frame with adult proportions.

Frame (the same as MANO's right-hand template, so global orientations act alike on both models):

- ``+x`` points from the fingers towards the wrist and forearm (the fingers point along ``-x``);
- ``+y`` is the back of the hand (dorsal); the palm faces ``-y``;
- ``+z`` is the thumb side (radial); the little finger lies towards ``-z``.

The joint positions are our own, rounded to about a millimetre and chosen to sit close to MANO's rest joints (the
MANO wrist is at about (0.096, 0.006, 0.006) m and the finger knuckles near x = 0..0.03 m), so a translation or
global orientation estimated for one model lands the other in the same place. Phalanx lengths follow adult
anthropometry: the distance from the wrist joint to the tip of the middle finger is about 18 cm.

Everything here is plain data plus a few pure functions; nothing runs at import time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handmesh.hand_model.keypoints import MANO_PARENTS
from handmesh.hand_model.model_file import NUM_JOINTS

#: MANO's parent table (:data:`~handmesh.hand_model.keypoints.MANO_PARENTS`) as an int32 array: 0 wrist; 1-3 index,
#: 4-6 middle, 7-9 pinky, 10-12 ring, 13-15 thumb.
PARENTS = np.array(MANO_PARENTS, dtype=np.int32)

#: Digits in the order of ``tip_vertex_ids`` (and of the 21-keypoint layout): thumb, index, middle, ring, pinky.
DIGITS = ("thumb", "index", "middle", "ring", "pinky")

#: MANO joint ids of each digit, proximal to distal.
DIGIT_JOINTS = {
    "index": (1, 2, 3),
    "middle": (4, 5, 6),
    "pinky": (7, 8, 9),
    "ring": (10, 11, 12),
    "thumb": (13, 14, 15),
}

#: Unit vectors of the canonical frame.
DISTAL = np.array([-1.0, 0.0, 0.0])  # wrist -> fingers
DORSAL = np.array([0.0, 1.0, 0.0])  # palm -> back of the hand
RADIAL = np.array([0.0, 0.0, 1.0])  # little finger -> thumb


@dataclass(frozen=True)
class DigitSpec:
    """Design numbers of one digit (metres, radians).

    Attributes:
        base: position of the digit's first joint (finger knuckle / thumb carpometacarpal joint), (3,).
        lengths: bone lengths, proximal to distal; the last runs from the distal joint to the skin at the tip.
        spread: fan angle of each bone in the palm plane, measured from ``-x`` towards ``+z`` (radial), one per bone.
        lift: angle of each bone towards the back of the hand (``+y``), one per bone.
        radii: skin radius at the base joint, the two following joints and the tip, (4,).
    """

    base: tuple[float, float, float]
    lengths: tuple[float, float, float]
    spread: tuple[float, float, float]
    lift: tuple[float, float, float]
    radii: tuple[float, float, float, float]


def _deg(a: float) -> float:
    return float(np.deg2rad(a))


WRIST = (0.0955, 0.0065, 0.0060)

DIGIT_SPECS: dict[str, DigitSpec] = {
    "index": DigitSpec(
        base=(0.0075, 0.0015, 0.0268),
        lengths=(0.0340, 0.0230, 0.0240),
        spread=(_deg(4.0), _deg(2.0), _deg(1.0)),
        lift=(_deg(3.0), _deg(-1.5), _deg(-2.0)),
        radii=(0.0100, 0.0098, 0.0089, 0.0081),
    ),
    "middle": DigitSpec(
        base=(0.0010, 0.0050, 0.0028),
        lengths=(0.0365, 0.0255, 0.0260),
        spread=(_deg(-8.0), _deg(-9.0), _deg(-9.0)),
        lift=(_deg(3.0), _deg(-1.5), _deg(-2.0)),
        radii=(0.0102, 0.0100, 0.0091, 0.0083),
    ),
    "ring": DigitSpec(
        base=(0.0140, 0.0025, -0.0205),
        lengths=(0.0335, 0.0245, 0.0245),
        spread=(_deg(-16.0), _deg(-18.0), _deg(-19.0)),
        lift=(_deg(2.0), _deg(-2.0), _deg(-2.0)),
        radii=(0.0096, 0.0094, 0.0086, 0.0078),
    ),
    "pinky": DigitSpec(
        base=(0.0270, -0.0035, -0.0370),
        lengths=(0.0270, 0.0190, 0.0215),
        spread=(_deg(-27.0), _deg(-29.0), _deg(-30.0)),
        lift=(_deg(1.0), _deg(-2.0), _deg(-2.0)),
        radii=(0.0086, 0.0084, 0.0077, 0.0070),
    ),
    # The thumb leaves the palm towards +z and curls towards the fingers (-x) and slightly towards the palm (-y).
    "thumb": DigitSpec(
        base=(0.0715, -0.0090, 0.0320),
        lengths=(0.0310, 0.0275, 0.0270),
        spread=(_deg(50.5), _deg(33.0), _deg(25.0)),
        lift=(_deg(1.5), _deg(-11.5), _deg(-14.0)),
        radii=(0.0135, 0.0120, 0.0112, 0.0102),
    ),
}


def bone_direction(spread: float, lift: float) -> np.ndarray:
    """Unit direction of a bone from its fan angle and lift.

    Args:
        spread: angle in the palm plane from ``-x`` towards ``+z`` (radians).
        lift: angle towards ``+y`` (radians).

    Returns:
        (3,) unit vector.
    """
    return np.array([-np.cos(lift) * np.cos(spread), np.sin(lift), np.cos(lift) * np.sin(spread)])


@dataclass(frozen=True)
class Skeleton:
    """Rest-pose joints of the open hand.

    Attributes:
        joints: (16, 3) joint positions in metres, MANO order.
        tips: (5, 3) skin points at the end of each digit, order thumb, index, middle, ring, pinky (metres).
        parents: (16,) int32, ``parents[0] == -1``.
    """

    joints: np.ndarray
    tips: np.ndarray
    parents: np.ndarray

    def chain(self, digit: str) -> np.ndarray:
        """Polyline of one digit: its three joints and the tip, (4, 3) metres."""
        ids = DIGIT_JOINTS[digit]
        return np.concatenate([self.joints[list(ids)], self.tips[DIGITS.index(digit)][None]], axis=0)


def build_skeleton(specs: dict[str, DigitSpec] | None = None, wrist: tuple[float, float, float] = WRIST) -> Skeleton:
    """Place the 16 joints and the 5 digit tips from the design numbers.

    Args:
        specs: per-digit design numbers. Default: :data:`DIGIT_SPECS`.
        wrist: wrist joint position (metres). Default: :data:`WRIST`.

    Returns:
        The :class:`Skeleton`.
    """
    specs = DIGIT_SPECS if specs is None else specs
    joints = np.zeros((NUM_JOINTS, 3))
    joints[0] = wrist
    tips = np.zeros((len(DIGITS), 3))
    for digit, spec in specs.items():
        ids = DIGIT_JOINTS[digit]
        p = np.asarray(spec.base, dtype=np.float64)
        joints[ids[0]] = p
        for k in range(3):
            p = p + spec.lengths[k] * bone_direction(spec.spread[k], spec.lift[k])
            if k < 2:
                joints[ids[k + 1]] = p
        tips[DIGITS.index(digit)] = p
    return Skeleton(joints=joints, tips=tips, parents=PARENTS.copy())
