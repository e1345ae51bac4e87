"""Joint names and orders: MANO's 16 joints, the 21-keypoint FreiHAND/OpenPose order, and fingertip vertices.

MANO's kinematic tree has 16 joints (the wrist and three per finger) in the order wrist, index, middle, pinky, ring,
thumb. The 21-keypoint order used by FreiHAND, OpenPose and MediaPipe is wrist, then thumb, index, middle, ring,
pinky with four points each, the last of which is the fingertip. Fingertips are not MANO joints: they are mesh
vertices, appended as entries 16..20 (thumb, index, middle, ring, pinky) before reordering with
:data:`MANO16_TO_21`.
"""

from __future__ import annotations

__all__ = [
    "JOINT_NAMES_16",
    "JOINT_NAMES_21",
    "TIP_NAMES",
    "MANO16_TO_21",
    "MANO_PARENTS",
    "FINGER_JOINTS_16",
    "TIP_VERTEX_IDS",
    "MANO_TIP_CONVENTION",
    "MANO_TIP_VERTEX_IDS",
]

# MANO joint order. Anatomical names: the thumb's joints are CMC, MCP and IP; the other fingers' MCP, PIP, DIP.
JOINT_NAMES_16: tuple[str, ...] = (
    "wrist",
    "index_mcp",
    "index_pip",
    "index_dip",
    "middle_mcp",
    "middle_pip",
    "middle_dip",
    "pinky_mcp",
    "pinky_pip",
    "pinky_dip",
    "ring_mcp",
    "ring_pip",
    "ring_dip",
    "thumb_cmc",
    "thumb_mcp",
    "thumb_ip",
)

# The fingertip vertices, in the order they are appended after the 16 joints.
TIP_NAMES: tuple[str, ...] = ("thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip")

# FreiHAND / OpenPose / MediaPipe order: 0 wrist, 1-4 thumb, 5-8 index, 9-12 middle, 13-16 ring, 17-20 pinky.
JOINT_NAMES_21: tuple[str, ...] = (
    "wrist",
    "thumb_cmc",
    "thumb_mcp",
    "thumb_ip",
    "thumb_tip",
    "index_mcp",
    "index_pip",
    "index_dip",
    "index_tip",
    "middle_mcp",
    "middle_pip",
    "middle_dip",
    "middle_tip",
    "ring_mcp",
    "ring_pip",
    "ring_dip",
    "ring_tip",
    "pinky_mcp",
    "pinky_pip",
    "pinky_dip",
    "pinky_tip",
)

# keypoints21 = cat([joints16, vertices[:, tip_vertex_ids]], 1)[:, MANO16_TO_21]
MANO16_TO_21: tuple[int, ...] = (0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20)

# MANO's parent table (kintree_table[0] with the root set to -1): each finger is a chain hanging off the wrist.
MANO_PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)

# The three MANO joints of each finger, proximal to distal.
FINGER_JOINTS_16: dict[str, tuple[int, int, int]] = {
    "index": (1, 2, 3),
    "middle": (4, 5, 6),
    "pinky": (7, 8, 9),
    "ring": (10, 11, 12),
    "thumb": (13, 14, 15),
}

# Fingertip vertex ids on the MANO mesh (thumb, index, middle, ring, pinky) as different libraries pick them. They
# differ by one or two vertices on the same fingertip (a few millimetres), which matters when comparing keypoint
# errors across papers, so every choice is kept under its name.
TIP_VERTEX_IDS: dict[str, tuple[int, int, int, int, int]] = {
    # The FreiHAND toolbox (utils/mano_utils.py, kpId2vertices): the annotation and evaluation protocol we follow.
    "freihand": (744, 320, 443, 555, 672),
    # manopth's ManoLayer (right hand; its left hand uses 445 for the middle tip).
    "manopth": (745, 317, 444, 556, 673),
    "manopth_left": (745, 317, 445, 556, 673),
    # smplx's VERTEX_IDS["mano"].
    "smplx": (744, 320, 443, 554, 671),
}

# We evaluate on FreiHAND, so MANO models use FreiHAND's tips on both sides (MANO's left and right meshes share
# their vertex numbering).
MANO_TIP_CONVENTION = "freihand"
MANO_TIP_VERTEX_IDS: tuple[int, int, int, int, int] = TIP_VERTEX_IDS[MANO_TIP_CONVENTION]
