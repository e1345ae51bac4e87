"""The training loop behind ``handmesh-train``: one CPU, one GPU, or many processes under ``torchrun``.

One iteration: next batch -> forward (autocast when ``train.amp`` is bf16/fp16) -> loss -> skip if non-finite (on
every process at once) -> backward (gradients averaged by DDP) -> clip -> optimizer step -> LR schedule -> EMA.
Every ``train.val_every`` steps the network (its EMA when enabled) is validated; every ``train.ckpt_every`` steps and
at the end rank 0 writes ``last.pt`` (and ``best.pt`` when validation improves), atomically.

Resuming (``resume=``) restores the network, optimizer, scheduler, gradient scaler, EMA, counters and every
process's RNG states; with the data order and augmentation a function of (seed, epoch, item)
(:mod:`handmesh.train.data`) the resumed run computes exactly what the uninterrupted run would have.

SIGINT (Ctrl-C) or SIGTERM asks for a stop at the end of the current step: a checkpoint is written and the run can
be resumed; a second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from handmesh.config import Config, config_to_dict, save_config
from handmesh.errors import ConfigError, HandmeshError
from handmesh.train.checkpointing import (
    TrainerCounters,
    build_training_checkpoint,
    check_resume_config,
    read_training_checkpoint,
    save_checkpoint,
)
from handmesh.train.distributed import DistInfo, all_min, cleanup_distributed, setup_distributed
from handmesh.train.state import capture_rng_state, restore_rng_state

__all__ = ["TrainHooks", "TrainResult", "TrainingDivergedError", "train", "LAST_CHECKPOINT", "BEST_CHECKPOINT"]

logger = logging.getLogger(__name__)

LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"


class TrainingDivergedError(HandmeshError, RuntimeError):
    """The loss was NaN or inf for ``train.max_bad_steps`` steps in a row."""


@dataclass
class TrainHooks:
    """Callbacks for tests and tools.

    Attributes:
        on_loss: ``(step, loss) -> loss``, called with the batch's total loss before the finiteness check (e.g. to
            inject a NaN).
        on_step_end: ``(step)``, called after a step and its logging, validation and checkpoint; an exception
            raised here ends the run as a crash would.
    """

    on_loss: Callable[[int, torch.Tensor], torch.Tensor] | None = None
    on_step_end: Callable[[int], None] | None = None


@dataclass
class TrainResult:
    """What a run did (every process returns one; files are written by rank 0).

    Attributes:
        output_dir: the run folder.
        last_checkpoint: ``last.pt``; best_checkpoint: ``best.pt`` or None without validation.
        step: steps done; total_steps: steps planned.
        val: the last validation's metrics (``pa_mpjpe_mm``, ``pa_mpvpe_mm``), or None.
        best_pa_mpjpe_mm: the best validation PA-MPJPE (inf without validation).
        bad_steps: non-finite losses skipped.
        data_wait_fraction: share of step wall time spent waiting for batches (this run's steps).
        seconds: wall time of the loop.
        stopped: the run stopped early on a signal (a checkpoint was written).
    """

    output_dir: Path
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    step: int
    total_steps: int
    val: dict[str, float | None] | None
    best_pa_mpjpe_mm: float
    bad_steps: int
    data_wait_fraction: float
    seconds: float
    stopped: bool = False


class _StopRequest:
    """SIGINT/SIGTERM -> a flag checked between steps; a second SIGINT raises KeyboardInterrupt immediately."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _autocast_factory(amp: str, device: torch.device) -> Callable[[], contextlib.AbstractContextManager]:
    if amp == "none":
        return contextlib.nullcontext
    if amp not in ("bf16", "fp16"):
        raise ConfigError(f"train.amp = {amp!r}: expected none, bf16 or fp16")
    if amp == "fp16" and device.type != "cuda":
        raise ConfigError(f"train.amp = fp16 needs a CUDA device (this run uses {device}); use bf16 or none")
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return lambda: torch.autocast(device.type, dtype=dtype)


def _no_inductor_layout_optimization() -> None:
    """Turn off inductor's automatic channels-last layout for convolutions, for the whole process.

    On CPU (torch 2.14.1) that layout makes the compiled backward crash with a segmentation fault in the
    convolution backward of the stem's strided 1x1 convolution: the saved input is kept channels-last. Without it,
    a T8 training step compiles and runs (measured: forward and backward at 64 px, 2 threads).
    """
    import torch._inductor.config as inductor_config

    if inductor_config.layout_optimization:
        logger.info(
            "torch.compile on CPU: inductor's automatic channels-last layout is off (it crashes the "
            "compiled backward on CPU)"
        )
        inductor_config.layout_optimization = False


def _gather_rng(info: DistInfo) -> list[dict[str, Any]]:
    state = capture_rng_state()
    if not info.enabled:
        return [state]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, state)
    return out


def _to_device(batch: dict[str, torch.Tensor], device: torch.device, channels_last: bool) -> dict[str, torch.Tensor]:
    out = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    if channels_last:
        out["image"] = out["image"].contiguous(memory_format=torch.channels_last)
    return out


def _panel_grid(panels: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(panels, axis=0)


def train(
    cfg: Config,
    *,
    resume: str | os.PathLike | None = None,
    hooks: TrainHooks | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> TrainResult:
    """Train a hand mesh network as ``cfg`` says.

    Args:
        cfg: the resolved config.
        resume: a training checkpoint to continue from. Default: start afresh.
        hooks: :class:`TrainHooks`. Default: none.
        progress: show a tqdm bar (rank 0). Default: True.
        overwrite: start afresh even if ``train.output_dir`` holds a run. Default: False.

    Returns:
        :class:`TrainResult`.

    Raises:
        ConfigError: impossible settings (named).
        MissingFileError: dataset, MANO or ``model.pretrained`` files missing (named, with what belongs there).
        CheckpointError: ``resume`` is corrupt, inference-only, or of another variant.
        TrainingDivergedError: ``train.max_bad_steps`` non-finite losses in a row.
    """
    hooks = hooks or TrainHooks()
    info, device = setup_distributed(cfg.train.device)
    try:
        return _Run(cfg, info, device, hooks, progress).run(resume, overwrite)
    finally:
        cleanup_distributed(info)


def _require_vertices(cfg: Any, train_set: Any, full_supervision: bool) -> None:
    """The vertex losses need the vertex annotations: without them, say so instead of training without."""
    wanted = [t for t in ("verts3d", "edge", "normal") if float(getattr(cfg.loss, t)) > 0]
    annotations = getattr(train_set, "annotations", None)
    if full_supervision and wanted and annotations is not None and annotations.verts is None:
        from handmesh.datasets.freihand_format import annotation_path

        missing = annotation_path(Path(cfg.data.root), "training", "verts")
        raise ConfigError(
            f"loss.{', loss.'.join(wanted)} need the vertex annotations {missing}, which is not there: it comes with "
            f"FreiHAND v2 (put it beside training_mano.json), or train without them: "
            + " ".join(f"loss.{t}=0" for t in wanted)
        )


class _Run:
    """One training run's objects; :meth:`run` is the loop."""

    def __init__(self, cfg: Config, info: DistInfo, device: torch.device, hooks: TrainHooks, progress: bool):
        self.cfg, self.info, self.device, self.hooks, self.progress = cfg, info, device, hooks, progress
        self.out_dir = Path(cfg.train.output_dir)
        self.autocast = _autocast_factory(cfg.train.amp, device)
        self.bar: Any = None

    # ------------------------------------------------------------------------------------------------------------
    def _build(self, resume_ckpt: dict[str, Any] | None) -> None:
        from handmesh.datasets import build_freihand_dataset
        from handmesh.losses import build_loss
        from handmesh.network import build_network
        from handmesh.train.data import EpochSampler, SeededDataset, build_train_loader, data_hand_model
        from handmesh.train.ema import ModelEma
        from handmesh.train.optim import build_optimizer, build_scheduler
        from handmesh.train.validate import validation_subset

        cfg, info, device = self.cfg, self.info, self.device
        if cfg.train.num_threads:
            torch.set_num_threads(int(cfg.train.num_threads))
        torch.manual_seed(cfg.train.seed)  # identical initial weights on every process
        np.random.seed(cfg.train.seed)

        # Data first: a missing dataset is the most common mistake and should not wait for the network.
        self.train_set = build_freihand_dataset(cfg.data, "train", cfg.model.input_size)
        self.val_set = None
        if cfg.data.val_fraction > 0 and cfg.train.val_every > 0:
            full_val = build_freihand_dataset(cfg.data, "val", cfg.model.input_size, augment=False)
            self.val_set = validation_subset(full_val, cfg.data.val_max_samples, info)
        self.net = build_network(cfg.model, pretrained=resume_ckpt is None)
        data_model = data_hand_model(cfg.data.root, cfg.data.hand_model)
        self.full_supervision = data_model == self.net.hand_model_name
        if info.is_main and not self.full_supervision:
            logger.warning(
                "the data's annotations are %s parameters but the network uses the %s hand model: training on "
                "keypoints only (hand-parameter and vertex losses off; set data.hand_model if this is wrong)",
                data_model,
                self.net.hand_model_name,
            )
        _require_vertices(cfg, self.train_set, self.full_supervision)
        self.loss_fn = build_loss(
            cfg.loss,
            self.net.hand_model,
            cfg.model.input_size,
            use_hand_params=self.full_supervision,
            use_vertices=self.full_supervision,
            use_head_keypoints=self.net.head_kind == "spatial",
        ).to(device)
        if not self.loss_fn.active_terms:
            raise ConfigError("every loss term usable with this data has weight 0 (see the loss section)")

        self.sampler = EpochSampler(
            len(self.train_set),
            cfg.data.batch_size,
            seed=cfg.train.seed,
            rank=info.rank,
            world_size=info.world_size,
            shuffle=True,
        )
        self.loader = build_train_loader(
            SeededDataset(self.train_set, cfg.train.seed),
            self.sampler,
            num_workers=cfg.data.num_workers,
            pin_memory=device.type == "cuda",
        )
        bpe = self.sampler.batches_per_epoch
        # 0 steps is allowed: the run then only validates and saves the untrained network (a baseline).
        self.total_steps = int(cfg.optim.max_steps) if cfg.optim.max_steps is not None else int(cfg.optim.epochs) * bpe
        if self.total_steps < 0:
            raise ConfigError(f"optim.max_steps = {cfg.optim.max_steps}: expected >= 0")

        net = self.net.to(device)
        if cfg.train.channels_last:
            net = net.to(memory_format=torch.channels_last)
        if info.enabled and cfg.train.sync_bn:
            net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
        self.net = net
        self.optimizer = build_optimizer(net, cfg.optim)
        self.scheduler = build_scheduler(
            self.optimizer, self.total_steps, cfg.optim.warmup_steps, cfg.optim.min_lr_ratio
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=cfg.train.amp == "fp16")
        self.ema = ModelEma(net, cfg.optim.ema_decay) if cfg.optim.ema_decay else None
        self.counters = TrainerCounters(world_size=info.world_size, batches_per_epoch=bpe)
        if resume_ckpt is not None:
            self._restore(resume_ckpt)
        else:
            # Per-process streams for dropout/drop-path; set after building so every process starts equal.
            torch.manual_seed(cfg.train.seed + 1_000_003 * info.rank)

        module: nn.Module = net
        if info.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            module = DDP(net, device_ids=[device.index] if device.type == "cuda" else None)
        if cfg.train.compile:
            if device.type == "cpu":
                _no_inductor_layout_optimization()
            module = torch.compile(module)
        self.module = module

    def _restore(self, ckpt: dict[str, Any]) -> None:
        from handmesh.network.checkpoint import load_state_strict

        load_state_strict(self.net, ckpt["model"], Path(self.resume_path))
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if self.scaler.is_enabled() and ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        saved = TrainerCounters(**ckpt["trainer"])
        if self.ema is not None:
            if ckpt.get("ema") is not None:
                self.ema.load_state_dict(ckpt["ema"], saved.ema_updates)
            else:
                logger.warning("resuming with EMA on, but the checkpoint has no EMA weights: starting the average now")
                self.ema.module.load_state_dict(self.net.state_dict())
        bpe = self.sampler.batches_per_epoch
        if (saved.world_size, saved.batches_per_epoch) != (self.info.world_size, bpe) and self.info.is_main:
            logger.warning(
                "resuming with %d process(es) x %d batches per epoch (was %d x %d): the data order differs "
                "from the interrupted run's",
                self.info.world_size,
                bpe,
                saved.world_size,
                saved.batches_per_epoch,
            )
        self.counters = TrainerCounters(
            step=saved.step,
            epoch=saved.step // bpe,
            bad_steps=saved.bad_steps,
            consecutive_bad=saved.consecutive_bad,
            best_pa_mpjpe_mm=saved.best_pa_mpjpe_mm,
            ema_updates=saved.ema_updates,
            world_size=self.info.world_size,
            batches_per_epoch=bpe,
        )
        rng = ckpt["rng"]
        if len(rng) == self.info.world_size:
            restore_rng_state(rng[self.info.rank])
        else:
            restore_rng_state(rng[0])
            torch.manual_seed(self.cfg.train.seed + 1_000_003 * self.info.rank + saved.step)

    # ------------------------------------------------------------------------------------------------------------
    def _checkpoint(self, name: str) -> Path | None:
        rng = _gather_rng(self.info)
        if not self.info.is_main:
            return None
        self.counters.ema_updates = self.ema.updates if self.ema is not None else 0
        ckpt = build_training_checkpoint(
            self.net,
            config_to_dict(self.cfg),
            self.counters,
            ema_state=self.ema.state_dict() if self.ema is not None else None,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            scaler=self.scaler,
            rng_states=rng,
        )
        return save_checkpoint(self.out_dir / name, ckpt)

    def _validate(self) -> dict[str, float | None] | None:
        from handmesh.train.validate import validate

        if self.val_set is None:
            return None
        self.last_val_step = self.counters.step
        net = self.ema.module if self.ema is not None else self.net
        result = validate(
            net,
            self.val_set,
            self.device,
            self.info,
            batch_size=self.cfg.data.batch_size,
            num_workers=min(self.cfg.data.num_workers, 2),
            use_vertices=self.full_supervision,
            image_count=self.cfg.train.image_log_count,
            autocast=self.autocast,
        )
        step = self.counters.step
        self.log.val_row(step, result.as_dict(), result.num_samples)
        if result.panels:
            self.log.image("val/meshes", _panel_grid(result.panels), step)
        if self.info.is_main:
            vpe = f", PA-MPVPE {result.pa_mpvpe_mm:.2f} mm" if result.pa_mpvpe_mm is not None else ""
            self._print(
                f"step {step}: validation PA-MPJPE {result.pa_mpjpe_mm:.2f} mm{vpe} ({result.num_samples} samples)"
            )
        if math.isfinite(result.pa_mpjpe_mm) and result.pa_mpjpe_mm < self.counters.best_pa_mpjpe_mm:
            self.counters.best_pa_mpjpe_mm = result.pa_mpjpe_mm
            self.best_path = self._checkpoint(BEST_CHECKPOINT) or self.best_path
        return result.as_dict()

    def _print(self, msg: str) -> None:
        if self.bar is not None:
            self.bar.write(msg)
        else:
            logger.info(msg)

    # ------------------------------------------------------------------------------------------------------------
    def run(self, resume: str | os.PathLike | None, overwrite: bool) -> TrainResult:
        from tqdm import tqdm

        from handmesh.train.run_log import TRAIN_LOG, VAL_LOG, RunLogger, plot_training_curve
        from handmesh.utils.atomic import remove_stale_temporaries

        cfg, info = self.cfg, self.info
        resume_ckpt = None
        self.resume_path = str(resume) if resume is not None else None
        if resume is not None:
            resume_ckpt = read_training_checkpoint(resume)
            check_resume_config(resume_ckpt, cfg.model, resume)
        elif not overwrite:
            # Any file a run leaves means a run was there, even one killed before its first last.pt (its best.pt
            # and logs would be overwritten without a word).
            held = [n for n in (LAST_CHECKPOINT, BEST_CHECKPOINT, TRAIN_LOG, VAL_LOG) if (self.out_dir / n).exists()]
            if held:
                raise ConfigError(
                    f"train.output_dir {self.out_dir} already holds a run ({', '.join(held)}): pass --resume to "
                    "continue it, --overwrite to start again there, or choose another train.output_dir"
                )
        if info.is_main:  # a write killed mid-way (kill -9) left its temporary file; no other process writes here
            for name in (LAST_CHECKPOINT, BEST_CHECKPOINT):
                remove_stale_temporaries(self.out_dir / name)
        self._build(resume_ckpt)
        del resume_ckpt
        c = self.counters
        self.log = RunLogger(
            self.out_dir,
            self.loss_fn.active_terms,
            enabled=info.is_main,
            resume_step=c.step if resume is not None else None,
        )
        if info.is_main:
            save_config(cfg, self.out_dir / "config.yaml")
            logger.info(
                "training %s (%s hand model, %s supervision) for %d steps: %d images, batch %d x %d "
                "process(es), device %s",
                self.net.variant,
                self.net.hand_model_name,
                "full" if self.full_supervision else "keypoint",
                self.total_steps,
                len(self.train_set),
                cfg.data.batch_size,
                info.world_size,
                self.device,
            )
        self.bar = tqdm(
            total=self.total_steps,
            initial=c.step,
            desc="train",
            unit="step",
            dynamic_ncols=True,
            disable=not (info.is_main and self.progress),
        )
        self.best_path: Path | None = (
            self.out_dir / BEST_CHECKPOINT if (self.out_dir / BEST_CHECKPOINT).exists() and resume is not None else None
        )
        self.last_val_step = -1
        last_path: Path | None = None
        last_val: dict[str, float | None] | None = None
        stopped = False
        t_start = time.perf_counter()
        wait_total = wall_total = 0.0
        try:
            with _StopRequest() as stop:
                stopped, wait_total, wall_total, last_val = self._loop(stop)
            if not stopped and self.last_val_step != c.step:
                last_val = self._validate() or last_val
            last_path = self._checkpoint(LAST_CHECKPOINT)
            if info.enabled:
                dist.barrier()
        finally:
            self.bar.close()
            self.log.close()
        seconds = time.perf_counter() - t_start
        wait_frac = wait_total / wall_total if wall_total > 0 else 0.0
        result = TrainResult(
            output_dir=self.out_dir,
            last_checkpoint=self.out_dir / LAST_CHECKPOINT,
            best_checkpoint=self.best_path,
            step=c.step,
            total_steps=self.total_steps,
            val=last_val,
            best_pa_mpjpe_mm=c.best_pa_mpjpe_mm,
            bad_steps=c.bad_steps,
            data_wait_fraction=wait_frac,
            seconds=seconds,
            stopped=stopped,
        )
        if info.is_main:
            summary = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(result).items()}
            summary["best_pa_mpjpe_mm"] = None if not math.isfinite(c.best_pa_mpjpe_mm) else c.best_pa_mpjpe_mm
            from handmesh.utils.atomic import atomic_write_json

            atomic_write_json(self.out_dir / "summary.json", summary, indent=2)
            plot_training_curve(self.out_dir, title=f"{self.net.variant} ({self.out_dir.name})")
            logger.info(
                "%s at step %d/%d in %.0f s; data waiting %.1f%% of step time; %d non-finite step(s) "
                "skipped; checkpoint %s",
                "stopped" if stopped else "finished",
                c.step,
                self.total_steps,
                seconds,
                100 * wait_frac,
                c.bad_steps,
                last_path,
            )
        return result

    def _loop(self, stop: _StopRequest) -> tuple[bool, float, float, dict[str, float | None] | None]:
        cfg, info, c, device = self.cfg, self.info, self.counters, self.device
        bpe = self.sampler.batches_per_epoch
        params = [p for p in self.net.parameters() if p.requires_grad]
        clip = cfg.optim.clip_grad
        check_grads = cfg.train.amp != "fp16"  # with fp16 the scaler owns overflowing gradients
        n_terms = len(self.loss_fn.active_terms)
        win = torch.zeros(2 + n_terms, dtype=torch.float64, device=device)  # loss, grad_norm, terms
        win_steps = win_good = 0
        win_wait = win_wall = 0.0
        wait_total = wall_total = 0.0
        last_val = None
        self.module.train()
        while c.step < self.total_steps:
            epoch, first = divmod(c.step, bpe)
            c.epoch = epoch
            self.sampler.set_epoch(epoch, first)
            it = iter(self.loader)
            for _ in range(first, bpe):
                if c.step >= self.total_steps:
                    break
                t0 = time.perf_counter()
                batch = next(it)
                t1 = time.perf_counter()
                batch = _to_device(batch, device, cfg.train.channels_last)
                with self.autocast():
                    out = self.module(batch["image"])
                losses = self.loss_fn(out, batch)
                loss = losses.total
                if self.hooks.on_loss is not None:
                    loss = self.hooks.on_loss(c.step, loss)
                finite = all_min(bool(torch.isfinite(loss).item()), info, device)
                grad_norm = None
                if finite:
                    self.scaler.scale(loss).backward()
                    if clip or check_grads:
                        self.scaler.unscale_(self.optimizer)
                        grad_norm = nn.utils.clip_grad_norm_(params, clip if clip else float("inf"))
                        if check_grads and not bool(torch.isfinite(grad_norm).item()):
                            finite = False  # same on every process: gradients are already averaged
                if finite:
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                    c.consecutive_bad = 0
                else:
                    c.bad_steps += 1
                    c.consecutive_bad += 1
                    if c.consecutive_bad >= cfg.train.max_bad_steps:
                        raise TrainingDivergedError(
                            f"the loss was NaN or inf for {c.consecutive_bad} steps in a row (steps "
                            f"{c.step - c.consecutive_bad + 1}-{c.step}; train.max_bad_steps = "
                            f"{cfg.train.max_bad_steps}); last checkpoint: "
                            f"{self.out_dir / LAST_CHECKPOINT if (self.out_dir / LAST_CHECKPOINT).exists() else 'none'}"
                            ". Lower optim.lr, keep optim.clip_grad on, or use train.amp=none/bf16"
                        )
                    if info.is_main:
                        self._print(f"step {c.step}: non-finite loss, step skipped ({c.bad_steps} so far)")
                self.optimizer.zero_grad(set_to_none=True)
                self.scheduler.step()
                if finite and self.ema is not None:
                    self.ema.update(self.net)
                c.step += 1
                t2 = time.perf_counter()
                win_wait += t1 - t0
                win_wall += t2 - t0
                win_steps += 1
                if finite:
                    win_good += 1
                    terms = [losses.terms[k].detach().double() for k in self.loss_fn.active_terms]
                    zero = torch.zeros((), dtype=torch.float64, device=device)
                    gn = grad_norm.detach().double() if grad_norm is not None else zero
                    win += torch.stack([loss.detach().double(), gn, *terms])
                self.bar.update(1)

                if c.step % cfg.train.log_every == 0 or c.step == self.total_steps:
                    self._log_window(win, win_good, win_steps, win_wait, win_wall, epoch)
                    wait_total += win_wait
                    wall_total += win_wall
                    win.zero_()
                    win_steps = win_good = 0
                    win_wait = win_wall = 0.0
                if cfg.train.val_every > 0 and c.step % cfg.train.val_every == 0:
                    last_val = self._validate()
                    self.module.train()
                if cfg.train.ckpt_every > 0 and c.step % cfg.train.ckpt_every == 0 and c.step < self.total_steps:
                    self._checkpoint(LAST_CHECKPOINT)
                if self.hooks.on_step_end is not None:
                    self.hooks.on_step_end(c.step)
                stop_now = not all_min(not stop.requested, info, device)
                if stop_now:
                    wait_total += win_wait
                    wall_total += win_wall
                    if info.is_main:
                        self._print(f"stopping at step {c.step} on request; resume with --resume")
                    return True, wait_total, wall_total, last_val
            c.epoch = c.step // bpe
        wait_total += win_wait
        wall_total += win_wall
        return False, wait_total, wall_total, last_val

    def _log_window(self, win: torch.Tensor, good: int, steps: int, wait: float, wall: float, epoch: int) -> None:
        if not self.info.is_main or steps == 0:
            return
        vals = (win / max(good, 1)).cpu().tolist()
        row: dict[str, Any] = {"step": self.counters.step, "epoch": epoch, "loss": vals[0] if good else None}
        for name, v in zip(self.loss_fn.active_terms, vals[2:], strict=True):
            row[name] = v if good else None
        row.update(
            lr=self.optimizer.param_groups[0]["lr"],
            grad_norm=vals[1] if good else None,
            data_wait=wait / wall if wall > 0 else 0.0,
            step_time_s=wall / steps,
            images_per_s=steps * self.cfg.data.batch_size * self.info.world_size / wall if wall > 0 else None,
            bad_steps=self.counters.bad_steps,
        )
        self.log.train_row(row)
        self.bar.set_postfix(
            loss=f"{row['loss']:.4g}" if good else "nan",
            lr=f"{row['lr']:.2e}",
            wait=f"{100 * row['data_wait']:.0f}%",
            refresh=False,
        )
