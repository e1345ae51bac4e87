"""``handmesh-bench``: benchmarks that print a table (never timed tests).

Each subcommand lives in ``handmesh.bench.<name>`` and provides ``add_arguments(parser)`` and ``run(args) -> int``;
only the chosen subcommand's module is imported.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from handmesh.cli._common import user_errors_exit

SUBCOMMANDS: dict[str, str] = {
    "accuracy": "handmesh.load() defaults: clips against their ground truth, real photos against MediaPipe",
    "backbone": "FastViT variants: train-time vs reparameterized vs timm vs ONNX Runtime latency",
    "detection": "MediaPipe hand detection ms/frame, IMAGE vs VIDEO mode, and hands found on real photos",
    "fit": "landmark fit ms per hand on one core, replaying a clip's real fit inputs, with its accuracy",
    "offsets": "where MediaPipe's landmarks sit relative to the hand model's keypoints, on clips with ground truth",
    "hand-model": "hand model forward time at batch 1 and 64 on CPU",
    "render": "mesh overlay rasterizer vs an OpenCV painter's baseline",
    "metrics": "FreiHAND metrics stage by stage on 3,960 samples; --data also times annotation loading",
    "model": "whole network: torch train-time / reparameterized / ONNX Runtime / TorchScript",
    "pipeline": "end-to-end demo pipeline FPS with per-stage times vs MediaPipe landmarks-only",
    "stream": "the live pipeline's FPS with 3 stream clients (one stalled) vs none, and the clients' latency",
}


@user_errors_exit
def main(argv: list[str] | None = None) -> int:
    """Parse ``handmesh-bench COMMAND [flags]`` and run that benchmark."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog="handmesh-bench",
        description="Benchmarks that print a table. Ratios are measured side by side in one run; "
        "every table states the thread count.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    module = None
    for name, help_text in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(f"handmesh.bench.{name.replace('-', '_')}")
            module.add_arguments(p)
    args = parser.parse_args(argv)
    assert module is not None  # parse_args exits on an unknown or missing subcommand
    return int(module.run(args) or 0)
