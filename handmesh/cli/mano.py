"""``handmesh-mano``: convert the licensed MANO pickles to the compact model file once, or describe a model file.

handmesh-mano convert data/mano/MANO_RIGHT.pkl data/mano/MANO_LEFT.pkl
handmesh-mano convert MANO_RIGHT.pkl -o somewhere/MANO_RIGHT.npz
handmesh-mano info data/mano/MANO_RIGHT.npz
"""

from __future__ import annotations

import argparse
import logging
import sys

from handmesh.cli._common import user_errors_exit


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="handmesh-mano",
        description="Read MANO_RIGHT.pkl / MANO_LEFT.pkl without chumpy (a restricted unpickler that refuses "
        "any code) and write the compact .npz that handmesh prefers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    conv = sub.add_parser("convert", help="write FILE.npz beside each MANO FILE.pkl (or to -o)")
    conv.add_argument("inputs", nargs="+", metavar="PKL", help="MANO_RIGHT.pkl and/or MANO_LEFT.pkl")
    conv.add_argument("-o", "--output", default=None, help="output .npz (only with a single input)")
    conv.add_argument(
        "--side", choices=("right", "left"), default=None, help="the hand's side (default: from the file name)"
    )
    conv.add_argument(
        "--no-left-fix",
        action="store_true",
        help="keep the left file's shapedirs as stored (default: fix the x sign, smplx issue #48)",
    )
    info = sub.add_parser("info", help="describe a model .npz or a MANO .pkl")
    info.add_argument("file", metavar="FILE")
    return parser


@user_errors_exit
def main(argv: list[str] | None = None) -> int:
    """Entry point of ``handmesh-mano``."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the loader reports the left-hand fix
    if args.command == "info":
        from handmesh.hand_model.convert import describe_model_file

        print(describe_model_file(args.file))
        return 0
    from handmesh.errors import ConfigError
    from handmesh.hand_model.convert import convert_mano_pickle

    if args.output is not None and len(args.inputs) != 1:
        raise ConfigError("-o/--output needs exactly one input file")
    is_right = None if args.side is None else args.side == "right"
    for src in args.inputs:
        out = convert_mano_pickle(src, args.output, is_right=is_right, fix_left=not args.no_left_fix)
        print(f"wrote {out}")
    return 0
