"""The demo application behind ``handmesh-demo``: frame sources, the live loop, what it draws and what it writes.

It uses the library through :mod:`handmesh.api` (``load``), never through the package face ``handmesh``.

Files:
    loop.py       run_demo: the live loop behind ``handmesh-demo`` (DemoOptions in, DemoResult out), keys, outputs
    hud.py        the heads-up display drawn on the picture: FPS and hands, per-stage times, the keys
    window.py     whether a window can be shown, and Viewer3D: the hands' meshes in 3D in an open3d window
    sources.py    frame sources: camera (capture thread, freshest frame), video file, image folder; the sample clip
    sinks.py      outputs: an MP4 written atomically, a folder of PNGs, per-frame meshes

Importing this package does no work; import the module you need.
"""
