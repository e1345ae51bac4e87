"""``handmesh-export``: a checkpoint -> an ONNX, TorchScript or Core ML artefact that holds the whole network, hand
model included, checked against PyTorch.

    handmesh-export --checkpoint runs/t8/best.pt --format onnx
    handmesh-export --checkpoint runs/t8/best.pt --format coreml --fp16 --output HandMesh.mlpackage
    handmesh-export --inspect runs/t8/best.onnx          # what an artefact says about itself

Exit codes: 0 written (and checked, where this machine can run it), 1 written but it disagrees with PyTorch beyond
the tolerance, 2 a user error (missing or foreign checkpoint, bad option).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from handmesh.cli._common import user_errors_exit


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (kebab-case flags)."""
    p = argparse.ArgumentParser(
        prog="handmesh-export",
        description="Export a trained checkpoint, always reparameterized and with the hand model inside, to ONNX, "
        "TorchScript or Core ML. The artefact takes image (B,3,S,S) (normalized RGB crops) and returns rotmats, "
        "betas, cam, vertices, joints and joints2d; its metadata (input size, normalization, hand model, faces, "
        "shapes) is stored inside it. Every export is compared with PyTorch on random crops.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=Path, metavar="CKPT", help="handmesh checkpoint (training or inference)")
    src.add_argument(
        "--inspect",
        type=Path,
        metavar="ARTEFACT",
        help="print the metadata of an exported .onnx / .ts / .mlpackage and exit",
    )
    p.add_argument(
        "--format", default="onnx", choices=["onnx", "torchscript", "coreml"], help="artefact format (default: onnx)"
    )
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        help="where to write (default: beside the checkpoint: NAME.onnx, NAME.ts or NAME.mlpackage)",
    )
    p.add_argument(
        "--fp16",
        action="store_true",
        help="half precision: float16 encoder for GPUs (ONNX, TorchScript) or float16 compute for the "
        "Neural Engine (Core ML); inputs and outputs stay float32",
    )
    p.add_argument(
        "--batch",
        default="dynamic",
        metavar="N|dynamic",
        help="fixed batch size N, or dynamic (any batch; Core ML: 1..16) (default: dynamic)",
    )
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: 17)")
    p.add_argument(
        "--device",
        default="cpu",
        help="TorchScript: trace on this device, where the file will run (cpu, cuda) (default: cpu)",
    )
    p.add_argument("--no-ema", action="store_true", help="export the raw weights even if the checkpoint has EMA ones")
    p.add_argument(
        "--mano-dir",
        type=Path,
        default=None,
        help="folder with MANO_RIGHT.{npz,pkl} for a network trained with MANO (default: the usual search)",
    )
    p.add_argument("--no-verify", action="store_true", help="skip the comparison with PyTorch")
    return p


@user_errors_exit
def main(argv: list[str] | None = None) -> int:
    """Entry point of ``handmesh-export``."""
    args = build_parser().parse_args(argv)
    if args.inspect is not None:
        from handmesh.artefact import describe_artefact, read_metadata

        print(f"{args.inspect}")
        print(describe_artefact(read_metadata(args.inspect)))
        return 0
    from handmesh.export.api import export_model

    print(f"exporting {args.checkpoint} to {args.format}...", file=sys.stderr, flush=True)
    result = export_model(
        args.checkpoint,
        args.format,
        args.output,
        batch=args.batch,
        fp16=args.fp16,
        verify=not args.no_verify,
        opset=args.opset,
        device=args.device,
        use_ema=not args.no_ema,
        mano_dir=args.mano_dir,
    )
    print(result.summary())
    if result.parity.passed is False:
        print(
            f"error: {result.path} disagrees with PyTorch beyond {result.parity.tolerance_m:.0e} m on vertices "
            "(the file is kept for inspection; please report this)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
