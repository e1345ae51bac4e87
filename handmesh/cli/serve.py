"""``handmesh-serve``: the live pipeline for other programs: every frame's hands over WebSocket, and a 3D view in
the browser.

    handmesh-serve --camera 0                     # ws://127.0.0.1:8765/ and the 3D view at http://127.0.0.1:8080/
    handmesh-serve --video clip.mp4 --no-view     # the stream only
    handmesh-serve --host 0.0.0.0 --token s3cret  # open to the network; clients add ?token=s3cret

The messages (JSON keypoints, binary meshes) are described in docs/streaming.md and ``handmesh/stream/schema.json``.
The same flags as ``handmesh-demo`` choose the source, the network and the detector.
"""

from __future__ import annotations

import sys

from handmesh.cli._common import user_errors_exit
from handmesh.cli.demo import build_parser, run

DESCRIPTION = (
    "Stream live 3D hands to other programs over WebSocket (JSON keypoints, binary meshes; schema in "
    "docs/streaming.md) and show them in a 3D view in the browser. Without a source: camera 0 when there is a "
    "display, else the sample clip shipped with the package. Ctrl-C stops."
)


@user_errors_exit
def main(argv: list[str] | None = None) -> int:
    """Parse the flags and run the live pipeline with the stream and the browser view."""
    parser = build_parser(prog="handmesh-serve", description=DESCRIPTION, serving=True)
    return run(parser.parse_args(sys.argv[1:] if argv is None else argv), prog="handmesh-serve")


if __name__ == "__main__":
    raise SystemExit(main())
