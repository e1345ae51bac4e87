"""Keypoint orders and fingertip conventions, checked by name and against the libraries that define them."""

from __future__ import annotations

from handmesh.hand_model.keypoints import (
    JOINT_NAMES_16,
    JOINT_NAMES_21,
    MANO16_TO_21,
    MANO_PARENTS,
    MANO_TIP_CONVENTION,
    MANO_TIP_VERTEX_IDS,
    TIP_NAMES,
    TIP_VERTEX_IDS,
)


def test_mano16_to_21_by_name() -> None:
    source = JOINT_NAMES_16 + TIP_NAMES  # what the 21-keypoint map indexes: 16 joints then the 5 tips
    assert [source[i] for i in MANO16_TO_21] == list(JOINT_NAMES_21)
    assert MANO16_TO_21 == (0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20)
    assert sorted(MANO16_TO_21) == list(range(21))


def test_21_order_is_freihand_openpose() -> None:
    fingers = ["thumb", "index", "middle", "ring", "pinky"]
    assert JOINT_NAMES_21[0] == "wrist"
    for k, finger in enumerate(fingers):
        block = JOINT_NAMES_21[1 + 4 * k : 5 + 4 * k]
        assert all(n.startswith(finger + "_") for n in block) and block[-1] == finger + "_tip"


def test_parents_follow_the_names() -> None:
    assert MANO_PARENTS[0] == -1
    for j in range(1, 16):
        parent = JOINT_NAMES_16[MANO_PARENTS[j]]
        finger = JOINT_NAMES_16[j].split("_")[0]
        assert parent == "wrist" or parent.startswith(finger + "_")


def test_tip_conventions() -> None:
    from smplx.vertex_ids import vertex_ids

    smplx_tips = vertex_ids["mano"]
    assert TIP_VERTEX_IDS["smplx"] == tuple(smplx_tips[f] for f in ("thumb", "index", "middle", "ring", "pinky"))
    assert TIP_VERTEX_IDS["freihand"] == (744, 320, 443, 555, 672)
    assert TIP_VERTEX_IDS["manopth"] == (745, 317, 444, 556, 673)
    assert MANO_TIP_CONVENTION == "freihand" and MANO_TIP_VERTEX_IDS == TIP_VERTEX_IDS["freihand"]
    for ids in TIP_VERTEX_IDS.values():  # the same five fingertips: never more than a few vertex ids apart
        assert all(abs(a - b) <= 3 for a, b in zip(ids, TIP_VERTEX_IDS["freihand"]))
