"""``handmesh-synth``: synthetic training data in the FreiHAND layout, and synthetic video clips.

handmesh-synth data/synth --train 5000 --eval 500 --workers 2          # same as "handmesh-synth dataset ..."
handmesh-synth data/synth --train 5000 --eval 500 --workers 2 --resume  # continue an interrupted run
handmesh-synth video clip.mp4 --seconds 5 --fps 30                      # + clip.json with per-frame truth
"""

from __future__ import annotations

import argparse
import sys

from handmesh.cli._common import user_errors_exit

COMMANDS = ("dataset", "video")


def _dataset_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dataset",
        help="write a FreiHAND-format dataset (the default command)",
        description="Write a synthetic dataset in exactly the FreiHAND layout: training/rgb, "
        "training/mask, evaluation/rgb and the {training,evaluation}_{K,mano,xyz,scale,verts}.json "
        "files. The same seed and settings give the same bytes, whatever --workers is.",
    )
    p.add_argument("out", help="output folder (must be empty unless --overwrite or --resume)")
    p.add_argument("--train", type=int, default=1000, help="training annotations (default: 1000)")
    p.add_argument("--eval", type=int, default=100, help="evaluation annotations (default: 100)")
    p.add_argument(
        "--versions",
        type=int,
        default=1,
        help="training images per annotation, 1-4, ids idx + N*k like FreiHAND's (default: 1)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--size", type=int, default=224, help="image side in pixels (default: 224)")
    p.add_argument(
        "--hand-model",
        choices=("open", "mano"),
        default="open",
        help="hand model; *_mano.json reproduces *_verts.json with this model (default: open)",
    )
    p.add_argument("--mano-dir", default=None, help="folder with MANO_RIGHT.pkl/.npz for --hand-model mano")
    p.add_argument(
        "--occluders", type=float, default=0.25, help="probability of an object in front of the hand (default: 0.25)"
    )
    p.add_argument("--no-masks", action="store_true", help="do not write training/mask")
    p.add_argument("--chunk-size", type=int, default=64, help="annotations per unit of work (default: 64)")
    p.add_argument("--workers", type=int, default=1, help="parallel processes (default: 1)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--overwrite", action="store_true", help="replace an earlier run's files in OUT")
    group.add_argument("--resume", action="store_true", help="continue an interrupted run with the same settings")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _video_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "video",
        help="write a clip of a moving hand with a JSON sidecar of per-frame truth",
        description="Render a clip of a moving, articulating hand over a procedural background "
        "(MPEG-4, mp4v) and write per-frame ground truth (K, 2D/3D keypoints, vertices, "
        "hand parameters, handedness) to the .json beside it.",
    )
    p.add_argument("out", help="video file to write (.mp4); the sidecar gets the same name with .json")
    p.add_argument("--seconds", type=float, default=5.0, help="duration (default: 5)")
    p.add_argument("--fps", type=int, default=30, help="frames per second (default: 30)")
    p.add_argument("--width", type=int, default=640, help="frame width (default: 640)")
    p.add_argument("--height", type=int, default=480, help="frame height (default: 480)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--side", choices=("right", "left"), default="right", help="handedness (default: right)")
    p.add_argument("--hand-model", choices=("open", "mano"), default="open", help="hand model (default: open)")
    p.add_argument("--mano-dir", default=None, help="folder with the MANO files for --hand-model mano")
    p.add_argument(
        "--no-vertices",
        action="store_true",
        help="keep only parameters and keypoints in the sidecar (vertices are recomputed on load)",
    )
    p.add_argument("--plain-background", action="store_true", help="uniform grey background")
    p.add_argument(
        "--finger-coupling",
        type=float,
        default=1.0,
        help="0-1: how much each finger's curl follows its neighbours', as real fingers do (the ring finger cannot "
        "straighten alone); 0 animates each finger on its own, as the shipped sample clip was made (default: 1)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@user_errors_exit
def main(argv: list[str] | None = None) -> int:
    """Parse ``handmesh-synth [dataset|video] ...`` and run it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in COMMANDS and argv[0] not in ("-h", "--help"):
        argv.insert(0, "dataset")
    parser = argparse.ArgumentParser(prog="handmesh-synth", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _dataset_parser(sub)
    _video_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "video":
        from handmesh.synth.video import ClipConfig, generate_video

        cfg = ClipConfig(
            seconds=args.seconds,
            fps=args.fps,
            width=args.width,
            height=args.height,
            seed=args.seed,
            side=args.side,
            hand_model=args.hand_model,
            mano_dir=args.mano_dir,
            vertices=not args.no_vertices,
            plain_background=args.plain_background,
            finger_coupling=args.finger_coupling,
        )
        video, sidecar, seconds = generate_video(args.out, cfg, overwrite=args.overwrite, progress=not args.quiet)
        print(
            f"wrote {video} ({video.stat().st_size / 1024:.0f} KB, {cfg.num_frames} frames at {cfg.fps} fps) and "
            f"{sidecar} ({sidecar.stat().st_size / 1024:.0f} KB) in {seconds:.1f} s"
        )
        return 0

    from handmesh.synth.dataset import SynthConfig, generate_dataset, keep_freed_memory

    cfg = SynthConfig(
        num_train=args.train,
        num_eval=args.eval,
        versions=args.versions,
        seed=args.seed,
        image_size=args.size,
        hand_model=args.hand_model,
        mano_dir=args.mano_dir,
        occluder_prob=args.occluders,
        masks=not args.no_masks,
        chunk_size=args.chunk_size,
    )
    keep_freed_memory()  # this process is ours: see keep_freed_memory's docstring
    report = generate_dataset(
        args.out, cfg, workers=args.workers, overwrite=args.overwrite, resume=args.resume, progress=not args.quiet
    )
    if report.images == 0 and report.skipped:
        print(f"{report.out_dir}: already complete ({report.skipped} images), nothing to do")
        return 0
    resumed = f" ({report.skipped} already done)" if report.skipped else ""
    print(
        f"wrote {report.images} images{resumed} to {report.out_dir} in {report.seconds:.1f} s: "
        f"{report.images_per_second:.0f} images/s with {report.workers} worker(s), worker start-up included"
    )
    return 0
