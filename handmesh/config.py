"""The one configuration system: dataclass schema <- YAML file from ``configs/`` <- ``key=value`` overrides.

    cfg = load_config("configs/fastvit_t8_freihand.yaml", ["optim.lr=1e-3", "data.batch_size=64"])

Every checkpoint stores ``config_to_dict(cfg)`` and a ``config.yaml`` is written beside it, so a run can be rebuilt
from either. Modules never see a config object: ``build_*`` functions turn config sections into keyword arguments.

Unknown keys are errors that name the key and the closest valid one; values are checked against the field's type.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from handmesh.errors import ConfigError, MissingFileError
from handmesh.utils.atomic import atomic_open


@dataclass
class ModelConfig:
    """The network: encoder variant, input size, head and hand model."""

    variant: str = "fastvit_t8"  # any name from fastvit_backbone.list_models()
    input_size: int = 224  # square crop side in pixels; divisible by 32
    hand_model: str = "open"  # "open" (shipped, licence-free) or "mano" (needs the MANO files)
    mano_dir: str | None = None  # folder with MANO_RIGHT.{npz,pkl}; default $HANDMESH_MANO_DIR, then data/mano
    pretrained: str | None = None  # local ImageNet checkpoint (timm or apple format); None trains from scratch
    feature_fusion: bool = False  # also pool stage-3 maps into the regressor input
    ief_iterations: int = 3  # iterative error feedback steps (HMR)
    head_hidden: int = 1024  # width of the regressor MLP
    head_dropout: float = 0.0
    head: str = "pooled"  # "pooled" (IEF from pooled features) or "spatial" (tokens at soft-argmax keypoints)
    drop_path_rate: float = 0.0


@dataclass
class AugmentConfig:
    """Training-time augmentation, applied consistently to the image and the 3D targets."""

    enabled: bool = True
    scale: float = 0.25  # crop scale drawn from 1 +/- scale
    rotation_deg: float = 90.0  # in-plane rotation drawn from +/- rotation_deg
    translation: float = 0.1  # shift as a fraction of the crop side
    color_jitter: float = 0.3
    blur_prob: float = 0.1
    occlusion_prob: float = 0.1  # one or two occluders
    occluder_size: float = 0.25  # each side at most this fraction of the crop side


@dataclass
class DataConfig:
    """Where the data is and how it is batched."""

    dataset: str = "freihand"  # FreiHAND layout (real or synthetic)
    root: str = "data/freihand"
    # FreiHAND training image versions to use (any of gs, hom, sample, auto); None uses every version on disk.
    versions: list[str] | None = None
    val_fraction: float = 0.02  # carved out of training by annotation index, seed-stable
    val_seed: int = 0  # which carve-out; independent of train.seed, so changing that keeps the split
    val_max_samples: int = 1000  # cap on validation samples per validation run
    # The crop framing, the same as the live pipeline's: crop side = crop_expand x the longer side of the true
    # keypoints' box (training jitters scale and centre around it; validation uses it as is). null crops the fixed
    # centred fraction below instead, which is also what images without keypoints get (FreiHAND's evaluation split).
    crop_expand: float | None = 1.6
    # Side of the fixed centred crop / image side, for images whose keypoints are unknown: 1.0 for FreiHAND, whose
    # frames hold the hand at about 1 / 1.6 of their side.
    eval_crop_fraction: float = 1.0
    # Whose parameter space the annotations are in: "auto" reads synth_config.json of a synthetic set (the model it
    # was rendered with) and means "mano" for real FreiHAND. Hand-parameter and vertex losses apply only when this
    # equals model.hand_model; otherwise training uses the keypoints alone.
    hand_model: str = "auto"
    batch_size: int = 32  # per process (per GPU with torchrun)
    num_workers: int = 4  # loader processes per training process
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass
class LossConfig:
    """Loss weights (0 disables a term)."""

    joints3d: float = 1.0  # L1 on root-relative 3D joints (metres)
    joints3d_local: float = 0.0  # L1 on 3D joints in the hand's own frame (global rotation undone), with hand params
    verts3d: float = 1.0  # L1 on root-relative vertices (metres)
    joints2d: float = 0.1  # L1 on 2D keypoints in normalized crop coordinates
    head2d: float = 1.0  # L1 on the spatial head's soft-argmax keypoints (model.head=spatial; none for pooled)
    heatmap: float = 0.0  # KL from a Gaussian at each true keypoint to the spatial head's heatmap (spatial only)
    pose: float = 1.0  # MSE on rotation matrices, when MANO ground truth exists
    betas: float = 0.01  # MSE on betas, when MANO ground truth exists
    betas_prior: float = 0.001  # L2 pull of betas toward zero
    edge: float = 0.0  # mesh edge-length consistency
    normal: float = 0.0  # mesh face-normal consistency


@dataclass
class OptimConfig:
    """AdamW with a cosine schedule and linear warm-up."""

    lr: float = 5e-4
    weight_decay: float = 0.05
    warmup_steps: int = 500
    epochs: int = 100
    max_steps: int | None = None  # overrides epochs when set
    min_lr_ratio: float = 0.01
    clip_grad: float | None = 1.0
    ema_decay: float | None = None  # e.g. 0.9998; None disables EMA


@dataclass
class TrainConfig:
    """How the run is executed and logged."""

    output_dir: str = "runs/default"
    seed: int = 0
    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps
    amp: str = "none"  # none, bf16, fp16 (CUDA)
    channels_last: bool = False
    compile: bool = False
    log_every: int = 20
    val_every: int = 1000
    ckpt_every: int = 1000
    image_log_count: int = 4  # predicted meshes over validation crops written to TensorBoard
    max_bad_steps: int = 10  # consecutive NaN/inf losses before training stops
    sync_bn: bool = False  # BatchNorm statistics across processes under torchrun (default: per process)
    num_threads: int | None = None  # torch CPU threads of each training process; None leaves torch's default


@dataclass
class Config:
    """A whole run."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def load_config(path: str | os.PathLike | None = None, overrides: list[str] | None = None) -> Config:
    """Build a :class:`Config`: defaults, then the YAML file at ``path``, then ``key=value`` overrides.

    Args:
        path: a YAML file (e.g. ``configs/fastvit_t8_freihand.yaml``). Default: none (schema defaults).
        overrides: strings like ``"optim.lr=1e-3"`` or ``"data.versions=[gs,hom]"``; values are parsed as YAML.

    Raises:
        MissingFileError: ``path`` does not exist.
        ConfigError: an unknown key (naming the closest valid one) or a value of the wrong type.
    """
    cfg = Config()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise MissingFileError(f"config file {path} does not exist (recipes live in configs/)")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from e
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of sections (model:, data:, ...), got {type(data).__name__}")
        cfg = merge_into(cfg, data, source=str(path))
    for item in overrides or []:
        cfg = apply_override(cfg, item)
    return cfg


def config_from_dict(data: dict[str, Any], source: str = "checkpoint") -> Config:
    """Rebuild a :class:`Config` from ``config_to_dict`` output (e.g. the copy stored in a checkpoint)."""
    return merge_into(Config(), data, source=source)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """The config as plain dicts/lists/scalars (YAML- and JSON-serialisable)."""
    return dataclasses.asdict(cfg)


def save_config(cfg: Config, path: str | os.PathLike) -> None:
    """Write the resolved config as YAML, atomically."""
    with atomic_open(path, "w") as f:
        yaml.safe_dump(config_to_dict(cfg), f, sort_keys=False)


def apply_override(cfg: Config, item: str) -> Config:
    """Apply one ``dotted.key=value`` override (value parsed as YAML) and return the new config."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {item!r}: expected key=value, e.g. optim.lr=1e-3")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as e:
        raise ConfigError(f"override {item!r}: value is not valid YAML: {e}") from e
    nested: Any = value
    for part in reversed(key.split(".")):
        nested = {part: nested}
    return merge_into(cfg, nested, source=f"override {item!r}")


def merge_into(obj: Any, data: dict[str, Any], source: str, prefix: str = "") -> Any:
    """Return a copy of dataclass ``obj`` with ``data`` merged in, checking names and types.

    Args:
        obj: a dataclass instance (a section of the schema).
        data: a mapping of field names to values (nested mappings for nested sections).
        source: where the data came from, for error messages (a file name or an override).
        prefix: the dotted path of ``obj`` within the whole config, for error messages.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {prefix.rstrip('.') or 'config'} must be a mapping, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(obj)}
    hints = typing.get_type_hints(type(obj))
    updates: dict[str, Any] = {}
    for name, value in data.items():
        full = f"{prefix}{name}"
        if not isinstance(name, str):  # a YAML mapping's key may be a number or null
            raise ConfigError(
                f"{source}: config key {name!r} under {prefix.rstrip('.') or 'the top level'} is "
                f"not a name; valid keys: {', '.join(prefix + n for n in fields)}"
            )
        if name not in fields:
            valid = [f"{prefix}{n}" for n in fields]
            close = _closest(name, list(fields))
            hint = f"; did you mean {prefix + close!r}?" if close else f"; valid keys: {', '.join(valid)}"
            raise ConfigError(f"{source}: unknown config key {full!r}{hint}")
        current = getattr(obj, name)
        if dataclasses.is_dataclass(current):
            updates[name] = merge_into(current, value, source, prefix=f"{full}.")
        else:
            updates[name] = _check_type(value, hints[name], full, source)
    return dataclasses.replace(obj, **updates)


def _check_type(value: Any, hint: Any, key: str, source: str) -> Any:
    """Validate (and gently coerce: int -> float) ``value`` against a field's type hint."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_type(value, arg, key, source)
            except ConfigError:
                continue
        raise ConfigError(f"{source}: {key} = {value!r}: expected {_type_name(hint)}")
    if origin is list:
        (inner,) = typing.get_args(hint) or (Any,)
        if not isinstance(value, list):
            raise ConfigError(f"{source}: {key} = {value!r}: expected a list of {_type_name(inner)}")
        return [_check_type(v, inner, f"{key}[{i}]", source) for i, v in enumerate(value)]
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):
        # YAML 1.1 reads "1e-3" (no dot) as a string; accept any spelling Python accepts as a float.
        try:
            value = float(value)
        except ValueError:
            pass
    if hint is bool and not isinstance(value, bool):
        raise ConfigError(f"{source}: {key} = {value!r}: expected true or false")
    if hint is int and isinstance(value, bool):
        raise ConfigError(f"{source}: {key} = {value!r}: expected an integer")
    if not isinstance(value, hint):
        raise ConfigError(f"{source}: {key} = {value!r}: expected {_type_name(hint)}")
    if hint is float and not math.isfinite(value):
        # No setting of a model, a loss or an optimizer means anything as NaN or infinity (optim.lr=.nan once
        # reached torch and failed there with a traceback).
        raise ConfigError(f"{source}: {key} = {value!r}: expected a finite number")
    return value


def _closest(name: str, valid: list[str]) -> str | None:
    """The valid key most like ``name`` (a shared prefix counts extra: ``lr_rate`` -> ``lr``), or None."""

    def score(candidate: str) -> float:
        ratio = difflib.SequenceMatcher(None, name, candidate).ratio()
        return ratio + (0.5 if name.startswith(candidate) or candidate.startswith(name) else 0.0)

    best = max(valid, key=score, default=None)
    return best if best is not None and score(best) >= 0.6 else None


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    if typing.get_origin(hint) is list:
        (inner,) = typing.get_args(hint) or (Any,)
        return f"a list of {_type_name(inner)}"
    if hint is type(None):
        return "null"
    return getattr(hint, "__name__", str(hint))
