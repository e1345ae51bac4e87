"""handmesh: real-time 3D hand mesh recovery from one camera.

A FastViT encoder (``fastvit_backbone``) feeds a head that regresses MANO parameters; a hand model turns them into
a 778-vertex mesh and 21 keypoints in metres. Importing this package does no work: submodules load on first use.
"""

__version__ = "0.1.0"
