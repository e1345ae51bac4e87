"""The offline tool that regenerates the shipped open-hand asset, ``handmesh/assets/open_hand_right.npz``.

Run it with ``python -m handmesh.open_hand`` (rewrite the asset), ``python -m handmesh.open_hand --check`` (exit 1
if a fresh build differs from the file) or ``python -m handmesh.open_hand --figures FOLDER`` (the documentation
pictures). Nothing in the library imports it at run time: the hand model reads the shipped file
(``build_hand_model("open")``). It sits above :mod:`handmesh.hand_model` (it imports it; never the other way).

The open hand is a licence-free hand model, generated procedurally. It has MANO's kinematic tree (16 joints, same
parents and order) in MANO's canonical frame, 778 vertices on a closed, genus-0 skin (1552 faces), smooth skinning
weights, a joint regressor, ten meaningful shape directions, a relaxed mean pose and a pose PCA basis, all in the
model file format that :func:`handmesh.hand_model.build_hand_model` reads. It is not MANO: its proportions only
approximate MANO's, and no MANO data went into it.

Modules, in the order the generator runs them:
    skeleton.py     joint positions, parents, digit design numbers
    surface.py      the skin as an implicit surface (smooth union of rounded solids)
    cage.py         a coarse polygon cage around it (box modelling)
    remesh.py       Catmull-Clark, isotropic remeshing, relaxation, topology checks
    mesh.py         the 778-vertex rest mesh
    skinning.py     skinning weights and joint regressor
    shape_space.py  the ten shape directions
    poses.py        mean pose, named poses, pose PCA
    generate.py     assembly and the byte-stable model file writer
    figures.py      pictures of the hand in a few poses
"""

from handmesh.open_hand.generate import ASSET_PATH, OpenHand, asset_bytes, generate_open_hand, write_asset

__all__ = ["ASSET_PATH", "OpenHand", "asset_bytes", "generate_open_hand", "write_asset"]
