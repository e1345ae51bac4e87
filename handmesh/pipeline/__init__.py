"""From frames to hands: the estimator behind ``handmesh.load``, the demo's sources and sinks, and timings.

Files:
    hand.py       Hand, the result dataclass, and the coordinate convention
    network.py    NetworkStage (what the estimator needs of a network), RuntimeStage around handmesh.runtime
    estimator.py  HandEstimator: detect -> crop -> network -> un-mirror, camera solve, smoothing -> Hand
    timing.py     StageTimer and the stage names (capture, detect, crop, network, hand_model, render)
    mesh_io.py    OBJ / PLY mesh files
    sources.py    frame sources for the demo: camera (capture thread, freshest frame), video file, image folder
    sinks.py      the demo's outputs: an MP4 written atomically, a folder of PNGs, per-frame meshes
    demo.py       run_demo: the live loop behind ``handmesh-demo``

Importing this package does no work; import the module you need.
"""
