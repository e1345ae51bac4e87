"""``handmesh-bench backbone``: FastViT latency at batch 1, ours against timm's reference implementation.

Per variant and input size it measures, side by side in one run with one thread count: our train-time model, our
reparameterized model, timm's train-time and reparameterized models (holding the same weights), and ONNX Runtime on
the export of our reparameterized model. Torch models are timed round-robin (one call each per round, so load
changes on a shared machine hit all of them alike) and in both memory layouts unless one is forced; each keeps its
faster layout. The table reports medians and the ratios ours/timm and train-time/reparameterized.

Weights are random, with BatchNorm statistics and layer scales of trained magnitude: the 1e-5 initial layer scales
would leave tiny residual branches whose denormal floats slow some CPUs down and distort the comparison.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

LAYOUTS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
_SHORT = {"contiguous": "N", "channels_last": "C"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``handmesh-bench backbone``."""
    from fastvit_backbone import list_models

    parser.add_argument(
        "--variants",
        nargs="+",
        default=list_models(),
        metavar="NAME",
        help="variants, canonical or short names (default: all seven)",
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=int,
        default=[224, 256],
        metavar="S",
        help="square input sizes, multiples of 32 (default: 224 256)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="intra-op threads for torch and ONNX Runtime (default: torch's current setting)",
    )
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per model (default: 20)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls per model first (default: 5)")
    parser.add_argument(
        "--layout",
        choices=["best", *LAYOUTS],
        default="best",
        help="memory layout of torch inputs and weights; 'best' times both and keeps the faster "
        "per model (default: best)",
    )
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX Runtime column")
    parser.add_argument("--seed", type=int, default=0)


@dataclass
class Row:
    """Median latencies (ms) of one variant at one size; ``layouts`` says which layout each torch model ran in."""

    variant: str
    size: int
    ms: dict[str, float] = field(default_factory=dict)
    layouts: dict[str, str] = field(default_factory=dict)
    max_abs_diff: float = float("nan")


def _progress(msg: str) -> None:
    print(f"[backbone] {msg}", file=sys.stderr, flush=True)


def _machine() -> str:
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}"


@torch.no_grad()
def _trained_like_(model: nn.Module, seed: int) -> None:
    from fastvit_backbone.layers import LayerScale2d

    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            m.weight.copy_(torch.rand(c, generator=g) + 0.5)
            m.bias.copy_(torch.randn(c, generator=g) * 0.1)
        elif isinstance(m, LayerScale2d):
            m.gamma.copy_(torch.rand(m.gamma.shape, generator=g) * 0.4 + 0.05)


def _time_round_robin(
    candidates: dict[tuple[str, str], tuple[nn.Module, torch.Tensor]], warmup: int, repeats: int
) -> dict[tuple[str, str], float]:
    """Median seconds per call of every (model, layout) candidate, one call each per round."""
    times: dict[tuple[str, str], list[float]] = {k: [] for k in candidates}
    with torch.inference_mode():
        for r in range(warmup + repeats):
            for key, (model, x) in candidates.items():
                t0 = time.perf_counter()
                model(x)
                dt = time.perf_counter() - t0
                if r >= warmup:
                    times[key].append(dt)
    return {k: statistics.median(v) for k, v in times.items()}


def _time_onnx(model: nn.Module, size: int, threads: int, warmup: int, repeats: int, workdir: Path) -> float:
    import numpy as np
    import onnxruntime as ort

    path = workdir / "model.onnx"
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        torch.onnx.export(
            model, (x,), str(path), dynamo=False, input_names=["image"], output_names=["out"], opset_version=17
        )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feed = {"image": x.numpy().astype(np.float32)}
    times = []
    for r in range(warmup + repeats):
        t0 = time.perf_counter()
        session.run(None, feed)
        if r >= warmup:
            times.append(time.perf_counter() - t0)
    del session
    return statistics.median(times)


def _fmt(v: float | None, digits: int = 2) -> str:
    return "n/a" if v is None or v != v else f"{v:.{digits}f}"


def format_table(rows: list[Row], header: list[str]) -> str:
    """The Markdown table (with a header of '# ' lines) that :func:`run` prints."""
    lines = [f"# {h}" for h in header]
    cols = [
        "variant",
        "size",
        "ours train ms",
        "ours reparam ms",
        "timm train ms",
        "timm reparam ms",
        "ORT ms",
        "ours/timm reparam",
        "reparam speed-up ours",
        "reparam speed-up timm",
        "layouts",
        "max abs diff",
    ]
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "|".join("---" for _ in cols) + "|")
    for r in rows:
        ms = r.ms
        ratio = ms["ours_reparam"] / ms["timm_reparam"]
        su_ours = ms["ours_train"] / ms["ours_reparam"]
        su_timm = ms["timm_train"] / ms["timm_reparam"]
        layouts = " ".join(_SHORT[r.layouts[k]] for k in ("ours_train", "ours_reparam", "timm_train", "timm_reparam"))
        lines.append(
            f"| {r.variant} | {r.size} | {_fmt(ms['ours_train'])} | {_fmt(ms['ours_reparam'])} | "
            f"{_fmt(ms['timm_train'])} | {_fmt(ms['timm_reparam'])} | {_fmt(ms.get('onnx'))} | {ratio:.3f} | "
            f"{su_ours:.2f}x | {su_timm:.2f}x | {layouts} | {r.max_abs_diff:.1e} |"
        )
    lines.append("")
    lines.append(
        "layouts: memory layout each torch model ran in (ours train, ours reparam, timm train, timm reparam); "
        "C = channels_last, N = contiguous NCHW. max abs diff: largest difference between the outputs of "
        "the two reparameterized models on the same input."
    )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Time every requested variant and size; print the table to stdout, progress to stderr."""
    import timm
    from timm.utils.model import reparameterize_model as timm_reparameterize

    from fastvit_backbone import create_model, get_variant, reparameterize_model
    from handmesh.errors import ConfigError

    variants = [get_variant(v).name for v in args.variants]
    for s in args.sizes:
        if s <= 0 or s % 32:
            raise ConfigError(f"--sizes: {s} is not a positive multiple of 32 (FastViT's stride)")
    if args.repeats < 1 or args.warmup < 0:
        raise ConfigError("--repeats must be >= 1 and --warmup >= 0")
    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    onnx_ok = not args.no_onnx
    onnx_note = "onnxruntime"
    if onnx_ok:
        try:
            import onnxruntime

            onnx_note = f"onnxruntime {onnxruntime.__version__}"
        except ImportError:
            onnx_ok, onnx_note = False, "onnxruntime not installed: ORT column skipped"
    layouts = list(LAYOUTS) if args.layout == "best" else [args.layout]

    header = [
        "handmesh-bench backbone: FastViT latency at batch 1 (median ms)",
        f"command: handmesh-bench backbone {' '.join(_argv_echo(args))}",
        f"machine: {_machine()}; load average at start {os.getloadavg()[0]:.2f}"
        if hasattr(os, "getloadavg")
        else f"machine: {_machine()}",
        f"threads: {threads} (torch and ONNX Runtime); torch {torch.__version__}, timm {timm.__version__}, {onnx_note}",
        f"timing: {args.warmup} warm-up + {args.repeats} timed calls per model, round-robin; "
        f"layouts tried: {', '.join(layouts)}",
    ]
    if hasattr(os, "getloadavg") and os.getloadavg()[0] > 0.5:
        _progress(
            f"warning: load average {os.getloadavg()[0]:.2f} - other processes are running; with them "
            "competing for the cores, multi-threaded timings are unreliable (re-run on a quiet machine)"
        )
    rows: list[Row] = []
    total = len(variants) * len(args.sizes)
    step = 0
    with tempfile.TemporaryDirectory(prefix="handmesh-bench-") as tmp:
        for name in variants:
            torch.manual_seed(args.seed)
            ours = create_model(name).eval()
            _trained_like_(ours, args.seed)
            ref = timm.create_model(name, pretrained=False).eval()
            ref.load_state_dict(ours.state_dict(), strict=True)
            models = {
                "ours_train": ours,
                "ours_reparam": reparameterize_model(ours).eval(),
                "timm_train": ref,
                "timm_reparam": timm_reparameterize(ref).eval(),
            }
            for size in args.sizes:
                step += 1
                _progress(f"({step}/{total}) {name} at {size}x{size}: timing torch models")
                x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(args.seed))
                row = Row(name, size)
                with torch.inference_mode():
                    row.max_abs_diff = float((models["ours_reparam"](x) - models["timm_reparam"](x)).abs().max())
                candidates = {}
                for key, model in models.items():
                    for layout in layouts:
                        fmt = LAYOUTS[layout]
                        m = model if layout == "contiguous" else copy.deepcopy(model).to(memory_format=fmt)
                        candidates[(key, layout)] = (m, x.contiguous(memory_format=fmt))
                medians = _time_round_robin(candidates, args.warmup, args.repeats)
                for key in models:
                    best = min(layouts, key=lambda lay: medians[(key, lay)])
                    row.ms[key] = medians[(key, best)] * 1e3
                    row.layouts[key] = best
                if onnx_ok:
                    _progress(f"({step}/{total}) {name} at {size}x{size}: ONNX export and ONNX Runtime")
                    row.ms["onnx"] = (
                        _time_onnx(models["ours_reparam"], size, threads, args.warmup, args.repeats, Path(tmp)) * 1e3
                    )
                rows.append(row)
                _progress(
                    f"({step}/{total}) {name} at {size}: ours reparam {row.ms['ours_reparam']:.2f} ms, "
                    f"timm reparam {row.ms['timm_reparam']:.2f} ms"
                )
    print(format_table(rows, header))
    return 0


def _argv_echo(args: argparse.Namespace) -> list[str]:
    out = [
        "--variants",
        *args.variants,
        "--sizes",
        *map(str, args.sizes),
        "--repeats",
        str(args.repeats),
        "--warmup",
        str(args.warmup),
        "--layout",
        args.layout,
    ]
    if args.threads is not None:
        out += ["--threads", str(args.threads)]
    if args.no_onnx:
        out.append("--no-onnx")
    return out
