"""Checkpoints: one dict of plain data and tensors, readable with ``torch.load(weights_only=True)``.

Keys (training adds the last group; an inference checkpoint has only the first)::

    format            "handmesh-checkpoint"
    format_version    1
    info              variant, input_size, mean, std, hand_model, side, reparameterized, head settings, step, epoch
    config            the resolved run config (config_to_dict), from which the run can be rebuilt
    model             the network's state dict (without the hand model's arrays)
    ema               the EMA weights' state dict, or None
    -- training state --
    optimizer, scheduler, scaler, rng (torch/cuda/numpy/python states as tensors and lists), trainer (step, epoch,
    counters, best validation error)

:func:`load_network` rebuilds the network from ``info`` and the hand model named there.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from handmesh.errors import CheckpointError, MissingFileError
from handmesh.network.model import HandMeshNet

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointInfo",
    "checkpoint_info",
    "is_handmesh_checkpoint",
    "load_network",
    "load_state_strict",
    "make_checkpoint",
    "network_info",
    "read_checkpoint",
    "save_inference_checkpoint",
    "save_network",
]

CHECKPOINT_FORMAT = "handmesh-checkpoint"
FORMAT_VERSION = 1


@dataclass
class CheckpointInfo:
    """What a checkpoint says about its network (everything inference needs).

    Attributes:
        path: the file.
        config: the resolved run config as a dict (``handmesh.config.config_from_dict`` rebuilds it).
        variant: FastViT variant, e.g. ``"fastvit_t8"``.
        input_size: crop side S in pixels.
        mean, std: input normalization (RGB, applied to 0-1 pixels).
        hand_model: ``"open"`` or ``"mano"``.
        side: the side the network predicts (``"right"``; left hands are mirrored).
        reparameterized: whether the stored encoder is fused.
        step, epoch: training progress when saved.
        has_ema: the file holds EMA weights. used_ema: :func:`load_network` loaded them.
        head: the head's settings (``feature_fusion``, ``ief_iterations``, ``head_hidden``, ...).
    """

    path: Path
    config: dict[str, Any]
    variant: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    hand_model: str
    side: str
    reparameterized: bool = False
    step: int = 0
    epoch: int = 0
    has_ema: bool = False
    used_ema: bool = False
    head: dict[str, Any] = field(default_factory=dict)


def network_info(net: HandMeshNet, *, step: int = 0, epoch: int = 0) -> dict[str, Any]:
    """The ``info`` entry of a checkpoint of ``net`` (plain data)."""
    return {
        "variant": net.variant,
        "input_size": int(net.input_size),
        "mean": [float(v) for v in net.mean],
        "std": [float(v) for v in net.std],
        "hand_model": net.hand_model_name,
        "side": net.side,
        "reparameterized": bool(net.inference_mode),
        "head": {k: v for k, v in net.init_kwargs.items() if k not in ("variant", "input_size")},
        "step": int(step),
        "epoch": int(epoch),
    }


def make_checkpoint(
    net: HandMeshNet,
    config: dict[str, Any] | None = None,
    *,
    ema_state: dict[str, torch.Tensor] | None = None,
    step: int = 0,
    epoch: int = 0,
) -> dict[str, Any]:
    """The inference part of a checkpoint of ``net`` (training adds its state to this dict).

    Args:
        net: the network.
        config: the resolved run config as a dict. Default: the schema defaults with ``net``'s model settings.
        ema_state: EMA weights to store beside the model's. Default: none.
        step, epoch: training progress. Default: 0.
    """
    if config is None:
        from handmesh.config import Config, config_to_dict

        config = config_to_dict(Config())
        config["model"].update(
            {k: v for k, v in net.init_kwargs.items() if k in config["model"]}, hand_model=net.hand_model_name
        )
    return {
        "format": CHECKPOINT_FORMAT,
        "format_version": FORMAT_VERSION,
        "info": network_info(net, step=step, epoch=epoch),
        "config": config,
        "model": net.state_dict(),
        "ema": ema_state,
    }


def save_network(net: HandMeshNet, path: str | os.PathLike, config: dict[str, Any] | None = None) -> Path:
    """Write an inference checkpoint of ``net`` atomically (see :func:`make_checkpoint`); returns ``path``."""
    from handmesh.utils.atomic import atomic_torch_save

    atomic_torch_save(path, make_checkpoint(net, config))
    return Path(path)


def is_handmesh_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a torch file holding a handmesh checkpoint (False for other files, e.g. ImageNet ones)."""
    path = Path(path)
    if not path.is_file() or not zipfile.is_zipfile(path):
        return False
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # not loadable as a plain-data torch file: certainly not ours
        return False
    return isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a handmesh checkpoint with ``weights_only=True``.

    Args:
        path: the file.
        map_location: where tensors go. Default: ``"cpu"``.

    Raises:
        MissingFileError: no such file.
        CheckpointError: unreadable (corrupt, truncated) or not a handmesh checkpoint; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # every reader failure means the same to the user: this file is not usable
        first = str(e).splitlines()[0] if str(e) else ""
        raise CheckpointError(
            f"cannot read checkpoint {path}: {type(e).__name__}: {first} (corrupt or truncated, e.g. copied while "
            "being written, or not a handmesh checkpoint)"
        ) from e
    if not isinstance(obj, dict) or obj.get("format") != CHECKPOINT_FORMAT:
        what = f"format {obj.get('format')!r}" if isinstance(obj, dict) else f"a {type(obj).__name__}"
        raise CheckpointError(
            f"{path} is not a handmesh checkpoint ({what}; expected a dict with format {CHECKPOINT_FORMAT!r}, as "
            "handmesh-train writes). For an ImageNet FastViT checkpoint use model.pretrained"
        )
    version = obj.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {version!r}; this handmesh reads versions up to "
            f"{FORMAT_VERSION} (update handmesh)"
        )
    for key in ("info", "model", "config"):
        if key not in obj:
            raise CheckpointError(f"checkpoint {path} lacks its {key!r} entry (a damaged or hand-made file)")
    return obj


def checkpoint_info(ckpt: dict[str, Any], path: str | os.PathLike, used_ema: bool = False) -> CheckpointInfo:
    """A :class:`CheckpointInfo` from a checkpoint dict read by :func:`read_checkpoint`."""
    info = ckpt["info"]
    try:
        return CheckpointInfo(
            path=Path(path),
            config=ckpt["config"],
            variant=str(info["variant"]),
            input_size=int(info["input_size"]),
            mean=tuple(float(v) for v in info["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in info["std"]),  # type: ignore[arg-type]
            hand_model=str(info["hand_model"]),
            side=str(info.get("side", "right")),
            reparameterized=bool(info.get("reparameterized", False)),
            step=int(info.get("step", 0)),
            epoch=int(info.get("epoch", 0)),
            has_ema=ckpt.get("ema") is not None,
            used_ema=used_ema,
            head=dict(info.get("head", {})),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path}: its info entry is incomplete ({type(e).__name__}: {e})") from e


def load_state_strict(net: HandMeshNet, state: dict, path: Path) -> None:
    """Load a network state dict strictly, turning shape/key mismatches into one clear :class:`CheckpointError`."""
    own = net.state_dict()
    wrong = [
        f"{k} {tuple(v.shape)} (network: {tuple(own[k].shape)})"
        for k, v in state.items()
        if k in own and tuple(v.shape) != tuple(own[k].shape)
    ]
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if wrong or missing or unexpected:
        parts = []
        if wrong:
            parts.append(f"{len(wrong)} tensor(s) of another shape, e.g. {', '.join(wrong[:3])}")
        if missing:
            parts.append(f"{len(missing)} missing, e.g. {', '.join(missing[:3])}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected, e.g. {', '.join(unexpected[:3])}")
        raise CheckpointError(
            f"checkpoint {path} does not fit the {net.variant} network ({'; '.join(parts)}): it was trained with "
            "another variant or head (model.head_hidden, model.feature_fusion)"
        )
    net.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)


def _mano_dir(config: dict[str, Any], override: str | os.PathLike | None) -> str | os.PathLike | None:
    if override is not None:
        return override
    stored = (config.get("model") or {}).get("mano_dir")
    # A folder named on the training machine may not exist here: fall back to the usual search path.
    return stored if stored and Path(stored).exists() else None


def load_network(
    path: str | os.PathLike,
    map_location: str | torch.device = "cpu",
    *,
    use_ema: bool = True,
    expected_variant: str | None = None,
    mano_dir: str | os.PathLike | None = None,
) -> tuple[HandMeshNet, CheckpointInfo]:
    """Rebuild a trained network from its checkpoint, in eval mode.

    Args:
        path: a checkpoint written by ``handmesh-train`` (or :func:`save_inference_checkpoint`).
        map_location: device of the returned network. Default: ``"cpu"``.
        use_ema: load the EMA weights when the checkpoint has them. Default: True.
        expected_variant: raise unless the checkpoint is of this FastViT variant. Default: None (any).
        mano_dir: where the MANO files are, for a network trained with MANO. Default: the folder stored in the
            checkpoint's config if it exists here, else the usual search (``$HANDMESH_MANO_DIR``, ``data/mano``).

    Returns:
        ``(network, info)``; the network is float32, in eval mode, reparameterized only if the file was.

    Raises:
        MissingFileError: no such file, or the MANO files of a MANO network are missing.
        CheckpointError: corrupt file, not a handmesh checkpoint, another variant than ``expected_variant``, or
            weights that do not fit the network described in the file.
    """
    from handmesh.hand_model import build_hand_model

    ckpt = read_checkpoint(path, "cpu")
    used_ema = bool(use_ema and ckpt.get("ema") is not None)
    info = checkpoint_info(ckpt, path, used_ema)
    if expected_variant is not None:
        from fastvit_backbone import get_variant

        wanted = get_variant(expected_variant).name
        if wanted != info.variant:
            raise CheckpointError(f"checkpoint {path} holds a {info.variant} network, expected {wanted}")
    if info.side != "right":
        raise CheckpointError(f"checkpoint {path}: side {info.side!r} is not supported (networks predict right hands)")
    hand_model = build_hand_model(info.hand_model, "right", _mano_dir(info.config, mano_dir))
    head = info.head
    try:
        net = HandMeshNet(
            hand_model,
            variant=info.variant,
            input_size=info.input_size,
            feature_fusion=bool(head.get("feature_fusion", False)),
            ief_iterations=int(head.get("ief_iterations", 3)),
            head_hidden=int(head.get("head_hidden", 1024)),
            head_dropout=float(head.get("head_dropout", 0.0)),
            head=str(head.get("head", "pooled")),
            drop_path_rate=0.0,
            inference_mode=info.reparameterized,
        )
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path}: cannot build the network it describes: {e}") from e
    load_state_strict(net, ckpt["ema"] if used_ema else ckpt["model"], Path(path))
    net.eval()
    return net.to(map_location), info


def save_inference_checkpoint(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    half: bool = True,
    reparameterize: bool = True,
    use_ema: bool = True,
) -> Path:
    """Write a small checkpoint for inference only: no optimizer or RNG state, optionally fused and in float16.

    :func:`load_network` reads it like any other (weights are cast back to float32 on load).

    Args:
        src: a training checkpoint.
        dst: the file to write (atomically).
        half: store floating-point tensors as float16. Default: True.
        reparameterize: store the encoder fused (smaller, and what inference runs). Default: True.
        use_ema: take the EMA weights when present. Default: True.

    Returns:
        ``dst``.
    """
    from handmesh.utils.atomic import atomic_torch_save

    net, info = load_network(src, use_ema=use_ema)
    if reparameterize:
        net.reparameterize()
    ckpt = make_checkpoint(net, info.config, step=info.step, epoch=info.epoch)
    ckpt["model"] = {k: (v.half() if half and v.is_floating_point() else v) for k, v in ckpt["model"].items()}
    atomic_torch_save(dst, ckpt)
    return Path(dst)
