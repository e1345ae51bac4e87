"""``python -m handmesh.open_hand``: regenerate the shipped open-hand asset (or check it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from handmesh.open_hand.generate import ASSET_PATH, asset_bytes, generate_open_hand, write_asset


def main(argv: list[str] | None = None) -> int:
    """Regenerate the open hand's model file.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``): ``--output PATH`` writes elsewhere; ``--check``
            writes nothing and exits with 1 if the file at the output path differs from a fresh generation;
            ``--figures FOLDER`` only renders the documentation pictures of the shipped model into FOLDER.

    Returns:
        Exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m handmesh.open_hand",
        description="Regenerate the licence-free open hand model file (deterministic, byte for byte).",
    )
    parser.add_argument("--output", type=Path, default=ASSET_PATH, help=f"where to write it (default: {ASSET_PATH})")
    parser.add_argument(
        "--check", action="store_true", help="only compare with the existing file; exit 1 if it differs"
    )
    parser.add_argument(
        "--figures", type=Path, metavar="FOLDER", help="only render the pose and shape pictures (e.g. data/media)"
    )
    args = parser.parse_args(argv)
    if args.figures is not None:
        from handmesh.open_hand.figures import write_figures

        for path in write_figures(args.figures):
            print(f"wrote {path}")
        return 0
    if args.check:
        data = asset_bytes(generate_open_hand().arrays)
        same = args.output.is_file() and args.output.read_bytes() == data
        print(f"{args.output}: {'up to date' if same else 'differs from a fresh generation'}")
        return 0 if same else 1
    path = write_asset(args.output)
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
