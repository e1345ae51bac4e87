"""Shape directions (``shapedirs``) of the open hand: ten hand-designed, smooth blend shapes.

``shapedirs[:, :, i]`` is the displacement (metres) of every rest vertex per unit of ``betas[i]``; a unit is about
one standard deviation of adult hands for the first four. Unlike MANO's (a PCA of scans), each direction means
one thing:

==  ======================  =====================================================================================
 i  name                    what one unit does
==  ======================  =====================================================================================
 0  size                    the whole hand grows by 5 % about the wrist joint
 1  finger length           the four fingers and the thumb grow 6 % longer from their first joint; palm unchanged
 2  palm width              the palm widens by 5 % across (thumb side to little-finger side); digits move apart
                            without getting wider; the wrist stays as it is
 3  thickness               skin moves 8 % further from the bones everywhere (fleshier palm and digits); lengths
                            unchanged
 4  palm length             knuckles move 5 % further from the wrist, carrying the digits; digits unchanged
 5  thumb length            the thumb alone grows 6 % longer
 6  finger girth            the digits alone get 8 % thicker; palm unchanged
 7  index vs ring length    the index finger grows 4 % longer and the ring finger 4 % shorter (digit ratio)
 8  little finger length    the little finger alone grows 6 % longer
 9  (unused)                zeros
==  ======================  =====================================================================================

The displacements are built from the same digit coordinates as the skinning weights, so they are smooth where the
palm meets the digits and vanish where they say they do.
"""

from __future__ import annotations

import numpy as np

from handmesh.open_hand.skeleton import DIGIT_JOINTS, DIGITS
from handmesh.open_hand.skinning import DigitCoordinates
from handmesh.open_hand.surface import HandSurface

NUM_BETAS = 10

#: (name, relative change per unit) of each shape direction, in order.
SHAPE_DIRECTIONS = (
    ("size", 0.05),
    ("finger length", 0.06),
    ("palm width", 0.05),
    ("thickness", 0.08),
    ("palm length", 0.05),
    ("thumb length", 0.06),
    ("finger girth", 0.08),
    ("index vs ring length", 0.04),
    ("little finger length", 0.06),
    ("unused", 0.0),
)


def _lengthen(
    surface: HandSurface, vertices: np.ndarray, coords: DigitCoordinates, gains: dict[str, float]
) -> np.ndarray:
    """Stretch digits along their own chord from their first joint, by ``gains[digit]`` (relative), (V, 3)."""
    out = np.zeros_like(vertices)
    for i, name in enumerate(DIGITS):
        gain = gains.get(name, 0.0)
        if gain == 0.0:
            continue
        frame = surface.frames[name]
        tip = frame.points[3] + frame.radii[3] * frame.dirs[2]
        chord = tip - frame.points[0]
        axis = chord / np.linalg.norm(chord)
        along = np.maximum((vertices - frame.points[0]) @ axis, 0.0)
        weight = coords.membership[:, i] * coords.steps[:, i, 0]
        out += gain * (weight * along)[:, None] * axis
    return out


def build_shapedirs(surface: HandSurface, vertices: np.ndarray, coords: DigitCoordinates) -> np.ndarray:
    """The ten shape directions described in the module docstring.

    Args:
        surface: the implicit skin (skeleton and digit frames).
        vertices: (V, 3) rest vertices (metres).
        coords: digit coordinates of the vertices (:func:`~handmesh.open_hand.skinning.digit_coordinates`).

    Returns:
        (V, 3, 10) float64 displacements per unit beta (metres).
    """
    gain = dict(SHAPE_DIRECTIONS)
    joints = surface.skeleton.joints
    wrist = joints[0]
    digitness = coords.digitness  # 0 on the palm, 1 on the digits
    bases = np.array([surface.frames[name].points[0] for name in DIGITS])  # (5, 3) first joint of each digit
    base_of_vertex = coords.membership @ bases  # (V, 3) where the vertex's digit starts
    dirs = np.zeros(vertices.shape + (NUM_BETAS,))

    # 0: uniform scale about the wrist joint (the joint regressor maps it to the same scale of the skeleton).
    dirs[:, :, 0] = gain["size"] * (vertices - wrist)

    # 1: all digits longer.
    dirs[:, :, 1] = _lengthen(surface, vertices, coords, {name: gain["finger length"] for name in DIGITS})

    # 2: palm width across z about the palm's middle; digits ride on their base; fades out towards the wrist.
    centre_z = 0.5 * (joints[DIGIT_JOINTS["index"][0], 2] + joints[DIGIT_JOINTS["pinky"][0], 2])
    toward_palm = np.clip((wrist[0] + 0.008 - vertices[:, 0]) / 0.025, 0.0, 1.0)
    z_palm = toward_palm * (vertices[:, 2] - centre_z)
    z_digit = base_of_vertex[:, 2] - centre_z
    dirs[:, 2, 2] = gain["palm width"] * ((1.0 - digitness) * z_palm + digitness * z_digit)

    # 3: thickness: away from the nearest bone axis on the digits, away from the palm's mid-surface on the palm.
    digit_axis = np.einsum("vd,vdk->vk", coords.membership, coords.axis_points)
    radial_digit = vertices - digit_axis
    radial_palm = np.zeros_like(vertices)
    radial_palm[:, 1] = vertices[:, 1] - palm_mid_height(surface, vertices)
    radial = digitness[:, None] * radial_digit + (1.0 - digitness)[:, None] * radial_palm
    dirs[:, :, 3] = gain["thickness"] * radial

    # 4: palm length: move along the wrist -> knuckle direction, growing from the wrist; digits ride on their base.
    distal = np.array([-1.0, 0.0, 0.0])
    along_palm = np.maximum((vertices - wrist) @ distal, 0.0)
    along_digit = np.maximum((base_of_vertex - wrist) @ distal, 0.0)
    dirs[:, :, 4] = gain["palm length"] * ((1.0 - digitness) * along_palm + digitness * along_digit)[:, None] * distal

    # 5: thumb only.
    dirs[:, :, 5] = _lengthen(surface, vertices, coords, {"thumb": gain["thumb length"]})

    # 6: digits thicker, palm unchanged.
    dirs[:, :, 6] = gain["finger girth"] * digitness[:, None] * radial_digit

    # 7: index longer, ring shorter.
    ratio = gain["index vs ring length"]
    dirs[:, :, 7] = _lengthen(surface, vertices, coords, {"index": ratio, "ring": -ratio})

    # 8: little finger only.
    dirs[:, :, 8] = _lengthen(surface, vertices, coords, {"pinky": gain["little finger length"]})
    return dirs


def palm_mid_height(surface: HandSurface, vertices: np.ndarray) -> np.ndarray:
    """Height (y, metres) of the palm's mid-surface under each vertex: interpolated between the wrist joint and
    the knuckles, (V,)."""
    joints = surface.skeleton.joints
    knuckles = np.array([surface.frames[name].points[0] for name in ("index", "middle", "ring", "pinky")])
    order = np.argsort(knuckles[:, 2])
    y_knuckle = np.interp(vertices[:, 2], knuckles[order, 2], knuckles[order, 1])
    u = np.clip((joints[0, 0] - vertices[:, 0]) / (joints[0, 0] - knuckles[:, 0].mean()), 0.0, 1.0)
    return (1.0 - u) * joints[0, 1] + u * y_knuckle
