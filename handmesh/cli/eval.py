"""``handmesh-eval``: FreiHAND metrics for a ``pred.json`` or a checkpoint.

    handmesh-eval --predictions pred.json --data data/freihand
    handmesh-eval --checkpoint runs/t8/best.pt --data data/freihand --per-sample-csv per_sample.csv

Prints the metrics table and writes ``metrics.json`` (and ``pred.json`` for a checkpoint).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from handmesh.cli._common import user_errors_exit
from handmesh.crop import FREIHAND_FRAME_FRACTION
from handmesh.runtime.loader import BACKENDS

DEFAULT_DATA = "data/freihand"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (kebab-case flags)."""
    p = argparse.ArgumentParser(
        prog="handmesh-eval",
        description="Score hand predictions on FreiHAND with the official protocol (PA-MPJPE, PA-MPVPE, F@5mm, "
        "F@15mm, AUC). Give an existing CodaLab pred.json, or a checkpoint to run.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--predictions",
        type=Path,
        metavar="PRED_JSON",
        help="CodaLab pred.json: [xyz_list (N,21,3), verts_list (N,778,3)] in metres, dataset order",
    )
    src.add_argument(
        "--checkpoint",
        type=Path,
        metavar="CKPT",
        help="trained checkpoint (or handmesh-export artefact) to run on the split",
    )
    p.add_argument(
        "--data", type=Path, default=None, help=f"FreiHAND folder (default: data.root of --config, else {DEFAULT_DATA})"
    )
    p.add_argument("--config", type=Path, default=None, help="YAML config whose data.root gives the FreiHAND folder")
    p.add_argument(
        "--split",
        default="evaluation",
        choices=["evaluation", "training", "train", "val"],
        help="which samples the predictions are for (default: evaluation)",
    )
    p.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help="where metrics.json (and pred.json) go (default: beside the predictions; for a checkpoint "
        "<checkpoint folder>/eval_<split>)",
    )
    p.add_argument("--per-sample-csv", type=Path, default=None, help="also write per-sample errors to this CSV")
    p.add_argument(
        "--backend",
        default="torch",
        choices=("auto", *BACKENDS),
        help="runtime for --checkpoint (an export from handmesh-export runs with its own; default: torch, "
        "the network as trained)",
    )
    p.add_argument("--device", default="auto", help="device for --checkpoint: auto, cpu, cuda, mps (default: auto)")
    p.add_argument("--batch-size", type=int, default=32, help="images per batch for --checkpoint (default: 32)")
    p.add_argument("--num-workers", type=int, default=2, help="image loading processes (default: 2)")
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip unreadable images (zero rows in pred.json, left out of the metrics, counted)",
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        default=None,
        help="validation carve-out for --split val/train (default: data.val_fraction of --config, else 0.02)",
    )
    p.add_argument(
        "--val-seed",
        type=int,
        default=None,
        help="seed of the validation carve-out (default: data.val_seed of --config, else 0)",
    )
    p.add_argument(
        "--crop-fraction",
        type=float,
        default=None,
        help="for --checkpoint: the network sees the centred square of this fraction of each image's side, never "
        "a crop placed with the ground truth (default: data.eval_crop_fraction of --config, else 1.0, the whole "
        "FreiHAND frame, which holds the hand as the live pipeline's crops do)",
    )
    p.add_argument("--no-cache", action="store_true", help="do not cache the parsed annotations")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


@user_errors_exit
def main(argv: list[str] | None = None) -> int:
    """Entry point of ``handmesh-eval``."""
    from handmesh.evaluation import evaluate_checkpoint, evaluate_prediction_file

    args = build_parser().parse_args(argv)
    data, val_fraction, val_seed, crop_fraction = _data_settings(args)
    common = dict(
        output_dir=args.output_dir,
        per_sample_csv=args.per_sample_csv,
        val_fraction=val_fraction,
        val_seed=val_seed,
        cache_dir=False if args.no_cache else None,
    )
    if args.predictions is not None:
        report = evaluate_prediction_file(args.predictions, data, args.split, **common)
    else:
        report = evaluate_checkpoint(
            args.checkpoint,
            data,
            args.split,
            backend=args.backend,
            device=args.device,
            batch_size=args.batch_size,
            num_workers=args.num_workers,
            skip_bad=args.skip_bad,
            crop_fraction=crop_fraction,
            progress=not args.quiet,
            **common,
        )
    if report.result is not None:
        print(report.result.table())
    else:
        print(f"no ground truth for the {args.split} split in {data}: wrote predictions only")
    for label, path in (
        ("predictions", report.predictions_json if args.checkpoint else None),
        ("metrics", report.metrics_json),
        ("per-sample errors", report.per_sample_csv),
    ):
        if path is not None:
            print(f"{label}: {path}", file=sys.stderr)
    return 0


def _data_settings(args: argparse.Namespace) -> tuple[Path, float, int, float]:
    """The FreiHAND folder, validation fraction and seed, and the crop fraction: command line, then --config, then
    defaults (the same carve-out and framing as training when the run's config is given)."""
    data, val_fraction, val_seed = args.data, args.val_fraction, args.val_seed
    crop_fraction = args.crop_fraction
    if args.config is not None:
        from handmesh.config import load_config

        cfg = load_config(args.config)
        data = data if data is not None else Path(cfg.data.root)
        val_fraction = val_fraction if val_fraction is not None else cfg.data.val_fraction
        val_seed = val_seed if val_seed is not None else cfg.data.val_seed
        crop_fraction = crop_fraction if crop_fraction is not None else cfg.data.eval_crop_fraction
    return (
        data if data is not None else Path(DEFAULT_DATA),
        val_fraction if val_fraction is not None else 0.02,
        val_seed if val_seed is not None else 0,
        crop_fraction if crop_fraction is not None else FREIHAND_FRAME_FRACTION,
    )


if __name__ == "__main__":
    sys.exit(main())
