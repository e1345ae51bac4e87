"""Benchmarks behind ``handmesh-bench``: each prints a table (ratios measured side by side in one run, the machine and
thread count stated) and every speed figure stands beside an accuracy figure. Each module provides
``add_arguments(parser)`` and ``run(args) -> int``.

Where things are:
    pipeline.py    end-to-end FPS and latency of the live pipeline beside MediaPipe alone, with the clip's accuracy
    accuracy.py    what handmesh.load()'s defaults give against ground truth: clips in both modes, real photos
    stream.py      the pipeline's FPS while streaming to clients (one stalled) against alone, and their latency
    fit.py         the landmark fit's time per hand, on one core
    offsets.py     where MediaPipe puts its landmarks relative to the hand model's keypoints (the fit's table)
    model.py       the whole network per backend (PyTorch, ONNX Runtime, TorchScript)
    backbone.py    FastViT latency, ours against timm's reference
    detection.py   MediaPipe's detection time per frame, IMAGE and VIDEO mode
    hand_model.py  hand model forward time
    render.py      mesh overlay time, the rasterizer against an OpenCV painter
    metrics.py     the FreiHAND metrics, stage by stage
"""
