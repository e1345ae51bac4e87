"""From frames to hands: the estimator behind ``handmesh.load``, its result, timings and mesh files.

Files:
    hand.py       Hand, the result dataclass, and the coordinate convention
    network.py    NetworkStage (what the estimator needs of a network), RuntimeStage around handmesh.runtime
    refine.py     HandRefiner (what the estimator needs of a refiner: the landmark fit, or none)
    estimator.py  HandEstimator: detect -> crop -> network -> un-mirror, camera solve, smoothing -> Hand
    timing.py     StageTimer and the stage names (capture, detect, crop, network, hand_model, render)
    mesh_io.py    OBJ / PLY mesh files

The demo application (sources, sinks, the live loop) is :mod:`handmesh.app`.

Importing this package does no work; import the module you need.
"""
