"""``handmesh-synth dataset``: a synthetic dataset in exactly FreiHAND's layout, so the FreiHAND loader reads it.

Written under the output folder::

    training/rgb/%08d.jpg          image id idx + N * k for version k (N training annotations, k < versions)
    training/mask/%08d.jpg         visible-hand mask of annotation idx (0 / 255)
    evaluation/rgb/%08d.jpg        one version
    {training,evaluation}_K.json       (N, 3, 3) intrinsics
    {training,evaluation}_mano.json    (N, 1, 61) pose 48, shape 10, root uv 2, focal / root z 1
    {training,evaluation}_xyz.json     (N, 21, 3) keypoints, metres, camera frame
    {training,evaluation}_scale.json   (N,) middle-finger MCP -> PIP bone length (keypoints 9 -> 10), metres
    {training,evaluation}_verts.json   (N, 778, 3) vertices, metres, camera frame
    synth_config.json              what was generated (and whether it finished)

Work is split into fixed chunks of consecutive annotations; every sample's randomness is keyed by its index, so the
bytes written depend on the seed and the settings, not on the number of worker processes. A chunk's annotations go
to ``.synth_parts/`` only after its images are on disk; ``--resume`` redoes exactly the chunks without such a part
or with an image missing, and the final JSON files are assembled (atomically) only when every chunk is done. On a
finished dataset ``--resume`` makes missing images again, identical to the lost ones.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from handmesh.errors import ConfigError, DataError
from handmesh.synth.jsontext import format_rows
from handmesh.synth.sampler import DECIMALS, MANO_DECIMALS
from handmesh.utils.atomic import atomic_open, atomic_write_bytes, atomic_write_json

SPLITS = ("training", "evaluation")
ANNOTATION_KEYS = ("K", "mano", "xyz", "scale", "verts")
CONFIG_FILE = "synth_config.json"
PARTS_DIR = ".synth_parts"
FORMAT = "handmesh-synth/freihand"
FORMAT_VERSION = 1
MAX_VERSIONS = 4  # FreiHAND's training images come in four versions (gs, hom, sample, auto)


@dataclass
class SynthConfig:
    """What to generate. Everything here goes into ``synth_config.json`` and must match for ``--resume``.

    Args:
        num_train: training annotations N (FreiHAND has 32,560). Default: 1000.
        num_eval: evaluation annotations (FreiHAND has 3,960). Default: 100.
        versions: training images per annotation, 1-4, written as image ids ``idx + N * k`` like FreiHAND's
            colour versions (each version: same hand, other background, light, skin tone and camera effects).
            Default: 1.
        seed: non-negative random seed. Default: 0.
        image_size: side of the square images in pixels (FreiHAND: 224). Default: 224.
        hand_model: ``"open"`` (shipped) or ``"mano"`` (licensed files, see ``mano_dir``). The ``*_mano.json``
            numbers reproduce ``*_verts.json`` only with this model. Default: ``"open"``.
        mano_dir: where the MANO files are, for ``hand_model="mano"``. Default: the usual search path.
        occluder_prob: probability of an object in front of the hand. Default: 0.25.
        masks: write ``training/mask``. Default: True.
        chunk_size: annotations per unit of work. Default: 64.
    """

    num_train: int = 1000
    num_eval: int = 100
    versions: int = 1
    seed: int = 0
    image_size: int = 224
    hand_model: str = "open"
    mano_dir: str | None = None
    occluder_prob: float = 0.25
    masks: bool = True
    chunk_size: int = 64

    def validate(self) -> None:
        """Raise :class:`~handmesh.errors.ConfigError` naming the first impossible setting."""
        if self.num_train < 0 or self.num_eval < 0:
            raise ConfigError(
                f"the number of images must be >= 0, got {self.num_train} training and "
                f"{self.num_eval} evaluation annotations"
            )
        if self.num_train + self.num_eval == 0:
            raise ConfigError("nothing to generate: both the training and the evaluation counts are 0")
        if not 1 <= self.versions <= MAX_VERSIONS:
            raise ConfigError(
                f"versions must be 1..{MAX_VERSIONS} (FreiHAND has 4 image versions), got {self.versions}"
            )
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        if not 32 <= self.image_size <= 4096:
            raise ConfigError(f"image size must be 32..4096 pixels, got {self.image_size}")
        if self.hand_model not in ("open", "mano"):
            raise ConfigError(f"hand model must be 'open' or 'mano', got {self.hand_model!r}")
        if not 0.0 <= self.occluder_prob <= 1.0:
            raise ConfigError(f"occluder probability must be in [0, 1], got {self.occluder_prob}")
        if self.chunk_size < 1:
            raise ConfigError(f"chunk size must be >= 1, got {self.chunk_size}")

    def count(self, split: str) -> int:
        """Annotations in ``split``."""
        return self.num_train if split == "training" else self.num_eval

    def tasks(self) -> list[tuple[str, int]]:
        """Every ``(split, chunk)`` unit of work, in order."""
        return [(s, c) for s in SPLITS for c in range(math.ceil(self.count(s) / self.chunk_size))]

    def images_in(self, split: str, chunk: int) -> int:
        """RGB images one chunk writes."""
        n = min(self.chunk_size, self.count(split) - chunk * self.chunk_size)
        return n * (self.versions if split == "training" else 1)


@dataclass
class SynthReport:
    """What a run did.

    Attributes:
        out_dir: the dataset folder.
        images: RGB images written by this run (masks not counted).
        skipped: images of chunks that a resumed run found done.
        seconds: wall time of the generation (worker start-up included).
        images_per_second: ``images / seconds``.
        workers: worker processes used.
    """

    out_dir: Path
    images: int
    skipped: int
    seconds: float
    images_per_second: float
    workers: int


# ----------------------------------------------------------------------------------------------------------------
# One chunk of work (runs in a worker process, or in this one)

_STATE: dict = {}


def keep_freed_memory() -> None:
    """Ask glibc to keep freed memory instead of returning it to the kernel after every image.

    Image-sized temporaries (a few hundred kB) are otherwise mapped and unmapped per call, and the page faults
    cost as much as rendering a hand on the virtual machines this was measured on. Best effort: does nothing
    where ``mallopt`` is unavailable. Called only in processes this module owns (its workers and the CLI).
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 64 << 20)
        libc.mallopt(m_trim_threshold, 256 << 20)
    except (OSError, AttributeError):
        pass


def _init_worker(config: dict, out_dir: str, tune_malloc: bool) -> None:
    """Build the hand model and sampler once per process; single-threaded kernels for determinism and speed."""
    import cv2
    import torch

    from handmesh.hand_model import build_hand_model
    from handmesh.synth.sampler import HandSampler

    if tune_malloc:
        keep_freed_memory()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    cfg = SynthConfig(**config)
    model = build_hand_model(cfg.hand_model, side="right", model_dir=cfg.mano_dir)
    _STATE.update(config=cfg, out=Path(out_dir), sampler=HandSampler(model, cfg.image_size, cfg.occluder_prob))


def _write_replace(path: Path, data: bytes) -> None:
    """Write a file through a temporary name and rename it into place (no fsync: an image of an unfinished
    chunk is rewritten on resume anyway, and syncing every image would halve the throughput)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    import cv2

    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV cannot fail on a valid uint8 array
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def chunk_files(out: Path, cfg: SynthConfig, split: str, chunk: int) -> list[Path]:
    """The image files one chunk writes (RGB for every version, and masks where enabled)."""
    start = chunk * cfg.chunk_size
    stop = min(start + cfg.chunk_size, cfg.count(split))
    n_versions = cfg.versions if split == "training" else 1
    files = [
        out / split / "rgb" / f"{i + cfg.count(split) * k:08d}.jpg"
        for i in range(start, stop)
        for k in range(n_versions)
    ]
    if split == "training" and cfg.masks:
        files += [out / split / "mask" / f"{i:08d}.jpg" for i in range(start, stop)]
    return files


def _chunk_done(out: Path, cfg: SynthConfig, split: str, chunk: int, *, needs_part: bool = True) -> bool:
    """A chunk is done when its annotations are recorded and every image it names is on disk (a record alone is
    not trusted: an image may have been deleted since)."""
    if needs_part and not part_path(out, split, chunk).is_file():
        return False
    return all(p.is_file() for p in chunk_files(out, cfg, split, chunk))


def part_path(out: Path, split: str, chunk: int) -> Path:
    """Where a finished chunk's annotations are kept until the final JSON files are written."""
    return out / PARTS_DIR / split / f"{chunk:06d}.json"


def _run_chunk(task: tuple[str, int]) -> tuple[str, int, int]:
    """Generate, render and write one chunk; returns ``(split, chunk, images written)``."""
    split, chunk = task
    cfg: SynthConfig = _STATE["config"]
    out: Path = _STATE["out"]
    sampler = _STATE["sampler"]
    start = chunk * cfg.chunk_size
    stop = min(start + cfg.chunk_size, cfg.count(split))
    anns = sampler.sample(split, range(start, stop), cfg.seed)
    n_versions = cfg.versions if split == "training" else 1
    written = 0
    for ann in anns:
        for k in range(n_versions):
            rgb, mask, quality = sampler.render(ann, split, cfg.seed, k)
            image_id = ann.index + cfg.count(split) * k
            _write_replace(out / split / "rgb" / f"{image_id:08d}.jpg", _encode_jpeg(rgb, quality))
            written += 1
            if k == 0 and split == "training" and cfg.masks:
                _write_replace(
                    out / split / "mask" / f"{ann.index:08d}.jpg", _encode_jpeg(mask.astype(np.uint8) * 255, 95)
                )
    # Each sample's entries are kept as ready JSON text: the final files are then plain concatenations, and the
    # fixed-point printer is ~15x faster than json.dumps on the 778 x 3 vertices.
    part = {
        "K": [format_rows(a.K, DECIMALS) for a in anns],
        "mano": [format_rows(a.mano[None], MANO_DECIMALS) for a in anns],  # FreiHAND nests it: (1, 61)
        "xyz": [format_rows(a.xyz, DECIMALS) for a in anns],
        "scale": [json.dumps(a.scale) for a in anns],
        "verts": [format_rows(a.verts, DECIMALS) for a in anns],
    }
    atomic_write_bytes(part_path(out, split, chunk), json.dumps(part).encode())
    return split, chunk, written


# ----------------------------------------------------------------------------------------------------------------
# The run: folder checks, resume, parallel chunks, final JSON files


def _our_paths(out: Path) -> list[Path]:
    names = [f"{s}_{k}.json" for s in SPLITS for k in ANNOTATION_KEYS] + [CONFIG_FILE, PARTS_DIR]
    return [out / n for n in names] + [out / "training" / "rgb", out / "training" / "mask", out / "evaluation" / "rgb"]


def _remove_previous(out: Path) -> None:
    """Delete what an earlier run wrote (only those paths: other files in the folder are left alone)."""
    for p in _our_paths(out):
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    for d in (out / "training", out / "evaluation"):
        with contextlib.suppress(OSError):
            d.rmdir()  # only if empty


def _config_record(cfg: SynthConfig, complete: bool) -> dict:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": asdict(cfg),
        "complete": complete,
        "splits": {s: cfg.count(s) for s in SPLITS},
        "images": {s: cfg.count(s) * (cfg.versions if s == "training" else 1) for s in SPLITS},
    }


def _read_record(out: Path) -> dict | None:
    path = out / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        rec = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: not a readable synth config ({e})") from None
    if not isinstance(rec, dict) or rec.get("format") != FORMAT:
        raise DataError(f"{path}: not written by handmesh-synth (format {rec.get('format')!r})")
    return rec


def _check_resume(out: Path, cfg: SynthConfig) -> dict:
    rec = _read_record(out)
    if rec is None:
        raise DataError(f"cannot resume in {out}: it holds no {CONFIG_FILE} from an earlier handmesh-synth run")
    old = rec.get("config", {})
    names = [f.name for f in fields(SynthConfig)]
    differ = [f"{n} ({old.get(n)!r} there, {getattr(cfg, n)!r} now)" for n in names if old.get(n) != getattr(cfg, n)]
    if differ:
        raise DataError(f"cannot resume in {out}: it was generated with other settings: " + ", ".join(differ))
    return rec


def _write_final_json(out: Path, cfg: SynthConfig) -> None:
    """Assemble each split's five JSON files from the chunk parts, streaming (memory stays per chunk)."""
    for split in SPLITS:
        n_chunks = math.ceil(cfg.count(split) / cfg.chunk_size)
        with contextlib.ExitStack() as stack:
            files = {k: stack.enter_context(atomic_open(out / f"{split}_{k}.json", "w")) for k in ANNOTATION_KEYS}
            first = True
            for f in files.values():
                f.write("[")
            for chunk in range(n_chunks):
                path = part_path(out, split, chunk)
                try:
                    part = json.loads(path.read_text())
                except (OSError, json.JSONDecodeError) as e:
                    raise DataError(f"{path}: unreadable chunk annotations ({e}); rerun with --resume") from None
                for i in range(len(part["K"])):
                    for k in ANNOTATION_KEYS:
                        files[k].write(("" if first else ", ") + part[k][i])
                    first = False
            for f in files.values():
                f.write("]")


def generate_dataset(
    out_dir: str | os.PathLike,
    config: SynthConfig,
    *,
    workers: int = 1,
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = True,
) -> SynthReport:
    """Write a synthetic FreiHAND-format dataset.

    Args:
        out_dir: the dataset folder (created if needed).
        config: what to generate (:class:`SynthConfig`).
        workers: processes rendering chunks in parallel (1 = in this process). Default: 1.
        overwrite: replace what an earlier run wrote into a non-empty ``out_dir``. Default: False.
        resume: continue an interrupted run with the same settings, redoing only unfinished chunks.
            Default: False.
        progress: show a tqdm progress bar. Default: True.

    Returns:
        A :class:`SynthReport`.

    Raises:
        ConfigError: impossible settings (no images, negative sizes, ...) or both ``overwrite`` and ``resume``.
        DataError: ``out_dir`` is not empty (and neither flag says what to do), or ``resume`` finds a run with
            other settings.
    """
    from tqdm import tqdm

    config.validate()
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if overwrite and resume:
        raise ConfigError("choose one of --overwrite (start again) and --resume (continue an interrupted run)")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataError(f"output path {out} exists and is not a folder")
    nonempty = out.is_dir() and any(out.iterdir())
    complete = False
    if nonempty and resume:
        complete = bool(_check_resume(out, config).get("complete"))
    elif nonempty and overwrite:
        _remove_previous(out)
    elif nonempty:
        hint = "--resume to continue the interrupted run there, or " if (out / CONFIG_FILE).is_file() else ""
        raise DataError(
            f"output folder {out} is not empty: pass {hint}--overwrite to replace it, or choose an empty folder"
        )
    for split in SPLITS:
        if config.count(split):
            (out / split / "rgb").mkdir(parents=True, exist_ok=True)
    if config.masks and config.num_train:
        (out / "training" / "mask").mkdir(parents=True, exist_ok=True)
    tasks = config.tasks()
    # A finished dataset keeps no chunk records: there only missing images are made again (every sample's
    # randomness is keyed by its index, so they come out byte for byte as before) and the JSON files stand.
    todo = [t for t in tasks if not _chunk_done(out, config, *t, needs_part=not complete)]
    if complete and not todo:
        return SynthReport(out, 0, sum(config.images_in(*t) for t in tasks), 0.0, 0.0, workers)
    if not complete:
        atomic_write_json(out / CONFIG_FILE, _config_record(config, complete=False), indent=1)
    skipped = sum(config.images_in(*t) for t in tasks if t not in todo)
    for split in SPLITS:
        (out / PARTS_DIR / split).mkdir(parents=True, exist_ok=True)
    total = sum(config.images_in(*t) for t in todo)
    t0 = time.perf_counter()
    done = 0
    with tqdm(total=total, unit="img", desc="handmesh-synth", disable=not progress, smoothing=0.1) as bar:
        if workers == 1 or len(todo) <= 1:
            import torch

            threads = torch.get_num_threads()
            try:
                _init_worker(asdict(config), str(out), tune_malloc=False)
                for task in todo:
                    _, _, n = _run_chunk(task)
                    done += n
                    bar.update(n)
            finally:
                torch.set_num_threads(threads)
                _STATE.clear()
        else:
            import multiprocessing as mp

            ctx = mp.get_context("spawn")  # fork after torch/numba threads started is unsafe
            with ctx.Pool(
                min(workers, len(todo)), initializer=_init_worker, initargs=(asdict(config), str(out), True)
            ) as pool:
                for _, _, n in pool.imap_unordered(_run_chunk, todo):
                    done += n
                    bar.update(n)
    if not complete:
        _write_final_json(out, config)
        atomic_write_json(out / CONFIG_FILE, _config_record(config, complete=True), indent=1)
    shutil.rmtree(out / PARTS_DIR, ignore_errors=True)
    seconds = time.perf_counter() - t0
    return SynthReport(
        out, done, skipped, seconds, done / seconds if seconds > 0 else 0.0, workers if len(todo) > 1 else 1
    )
