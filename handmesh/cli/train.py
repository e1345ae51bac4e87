"""``handmesh-train``: train the hand mesh network from a YAML recipe plus ``key=value`` overrides.

    handmesh-train --config configs/synthetic_t8.yaml
    handmesh-train --config configs/fastvit_t8_freihand.yaml --data data/freihand optim.lr=1e-3 train.amp=bf16
    handmesh-train --config configs/fastvit_t8_freihand.yaml --resume                 # continue from last.pt
    torchrun --nproc_per_node=4 -m handmesh.cli.train --config configs/fastvit_sa12_freihand.yaml

Writes ``config.yaml``, ``last.pt`` (every ``train.ckpt_every`` steps and at the end), ``best.pt``, CSV logs,
TensorBoard events (``tb/``) and ``training_curve.png`` to ``train.output_dir``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from handmesh.cli._common import user_errors_exit


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (kebab-case flags; positional ``key=value`` config overrides)."""
    p = argparse.ArgumentParser(
        prog="handmesh-train",
        description="Train the hand mesh network (FastViT encoder + MANO-parameter head). Settings come from the "
        "schema defaults, then --config, then key=value overrides (e.g. optim.lr=1e-3 data.batch_size=64).",
    )
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. optim.lr=1e-3")
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="YAML recipe from configs/ (with --resume, default: the config stored in the checkpoint)",
    )
    p.add_argument(
        "--resume",
        nargs="?",
        const="",
        default=None,
        metavar="CKPT",
        help="continue an interrupted run from CKPT (default: last.pt in train.output_dir)",
    )
    p.add_argument("--data", type=Path, default=None, help="dataset folder (same as data.root=DIR)")
    p.add_argument("--output-dir", type=Path, default=None, help="run folder (same as train.output_dir=DIR)")
    p.add_argument(
        "--synthetic-data",
        type=int,
        default=None,
        metavar="N",
        help="if the data folder does not exist, first render N synthetic training images into it "
        "(handmesh-synth, with the network's hand model)",
    )
    p.add_argument("--overwrite", action="store_true", help="start afresh in a run folder that holds a run")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _resolve_config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The run config and the checkpoint to resume from (None for a fresh run)."""
    from handmesh.config import apply_override, config_from_dict, load_config
    from handmesh.errors import ConfigError
    from handmesh.train.trainer import LAST_CHECKPOINT

    overrides = list(args.overrides)
    if args.data is not None:
        overrides.append(f"data.root={args.data}")
    if args.output_dir is not None:
        overrides.append(f"train.output_dir={args.output_dir}")
    resume: Path | None = None
    if args.resume is not None and args.resume != "":
        resume = Path(args.resume)
    if args.config is not None:
        cfg = load_config(args.config, overrides)
    elif resume is not None:
        from handmesh.network.checkpoint import read_checkpoint

        cfg = config_from_dict(read_checkpoint(resume)["config"], source=str(resume))
        for item in overrides:
            cfg = apply_override(cfg, item)
    elif args.resume is not None:
        cfg = load_config(None, overrides)
        if args.output_dir is None and not any(o.startswith("train.output_dir=") for o in overrides):
            raise ConfigError("--resume without a checkpoint path needs --config or --output-dir to find last.pt")
    else:
        raise ConfigError("give --config (a recipe from configs/, e.g. configs/synthetic_t8.yaml) or --resume CKPT")
    if args.resume == "":
        resume = Path(cfg.train.output_dir) / LAST_CHECKPOINT
        if args.config is None:
            from handmesh.network.checkpoint import read_checkpoint

            cfg = config_from_dict(read_checkpoint(resume)["config"], source=str(resume))
            for item in overrides:
                cfg = apply_override(cfg, item)
    return cfg, resume


@user_errors_exit
def main(argv: list[str] | None = None) -> int:
    """Entry point of ``handmesh-train``."""
    args = build_parser().parse_intermixed_args(argv)
    if args.resume and "=" in args.resume and not Path(args.resume).exists():
        # "--resume key=value": the override was taken for the optional checkpoint path.
        args.overrides.append(args.resume)
        args.resume = ""
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(
        level=logging.INFO if rank == 0 else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    cfg, resume = _resolve_config(args)
    if args.print_config:
        import yaml

        from handmesh.config import config_to_dict

        print(yaml.safe_dump(config_to_dict(cfg), sort_keys=False), end="")
        return 0
    if args.synthetic_data is not None:
        from handmesh.train.synthetic import ensure_synthetic_data

        ensure_synthetic_data(cfg, args.synthetic_data)
    from handmesh.train.trainer import train

    result = train(cfg, resume=resume, progress=not args.quiet, overwrite=args.overwrite)
    if rank == 0:
        val = result.val or {}
        parts = [f"step {result.step}/{result.total_steps}"]
        if val.get("pa_mpjpe_mm") is not None:
            parts.append(f"val PA-MPJPE {val['pa_mpjpe_mm']:.2f} mm")
        if val.get("pa_mpvpe_mm") is not None:
            parts.append(f"PA-MPVPE {val['pa_mpvpe_mm']:.2f} mm")
        parts.append(f"data wait {100 * result.data_wait_fraction:.1f}%")
        print(("stopped: " if result.stopped else "done: ") + ", ".join(parts))
        print(f"checkpoint: {result.last_checkpoint}")
    return 130 if result.stopped else 0


if __name__ == "__main__":
    sys.exit(main())
