"""Loading local ImageNet checkpoints into a FastViT model.

Accepted files: safetensors, or a torch pickle read with ``weights_only=True`` (no arbitrary code runs). The state
dict may be wrapped (``state_dict``, ``model``, ``state_dict_ema``, ``model_ema``) and prefixed (``module.``) and
may use timm's names (which are ours) or apple ml-fastvit's (converted on the fly). A train-time checkpoint loads
into a reparameterized model too: it is loaded into a train-time twin, fused, then copied. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fastvit_backbone.convert import (
    convert_apple_state_dict,
    fused_keys,
    guess_variant,
    is_apple_format,
    train_time_keys,
)
from fastvit_backbone.errors import CheckpointError

_WRAPPERS = ("state_dict", "model", "state_dict_ema", "model_ema")
_EMA_WRAPPERS = ("state_dict_ema", "model_ema")
_MAX_LISTED = 8


@dataclass
class LoadResult:
    """What :func:`load_checkpoint` did.

    Attributes:
        path: the file.
        source_format: ``"timm"`` (our names) or ``"apple"``.
        missing_keys: model keys the checkpoint lacked (only possible with ``strict=False``).
        unexpected_keys: checkpoint keys the model lacks (only possible with ``strict=False``).
        skipped_keys: classifier keys left out on purpose (``skip_head`` or a model without classifier).
        fused_on_load: the checkpoint was train-time and was reparameterized to fit a fused model.
    """

    path: Path
    source_format: str
    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)
    skipped_keys: list[str] = field(default_factory=list)
    fused_on_load: bool = False


def _listed(keys: list[str]) -> str:
    shown = ", ".join(keys[:_MAX_LISTED])
    return shown + (f", ... ({len(keys) - _MAX_LISTED} more)" if len(keys) > _MAX_LISTED else "")


def _looks_like_safetensors(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(9)
    if head[:2] == b"PK" or head[:1] == b"\x80":  # torch zip archive / legacy pickle
        return False
    return path.suffix == ".safetensors" or head[8:9] == b"{"


def _read_file(path: Path) -> Any:
    try:
        if _looks_like_safetensors(path):
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        # Training scripts store their argparse options beside the weights; that class is plain data.
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # every reader failure means the same to the user: this file is not usable
        raise CheckpointError(
            f"cannot read checkpoint {path}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
            "(corrupt, truncated, or not a safetensors/torch checkpoint; pickles are read with weights_only=True)"
        ) from e


def _unwrap(obj: Any, path: Path, use_ema: bool) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"checkpoint {path} holds a {type(obj).__name__}, expected a state dict (a mapping)")
    for name in _EMA_WRAPPERS if use_ema else _WRAPPERS:
        inner = obj.get(name)
        if isinstance(inner, Mapping) and inner:
            return inner
    if use_ema:
        raise CheckpointError(f"checkpoint {path} has no EMA weights (looked for {', '.join(_EMA_WRAPPERS)})")
    return obj


def read_state_dict(path: str | Path, use_ema: bool = False) -> dict[str, torch.Tensor]:
    """Read a checkpoint file into a flat ``{name: tensor}`` dict on CPU, unwrapped and without ``module.``.

    Names are left as stored (apple's names are not converted here).

    Args:
        path: a ``.safetensors`` file or a torch pickle (``.pth``, ``.pth.tar``, ``.pt``, ``.bin``).
        use_ema: prefer ``state_dict_ema``/``model_ema`` when the file has them. Default: ``False``.

    Returns:
        the state dict.

    Raises:
        CheckpointError: the file is missing, unreadable, or holds no tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    sd = _unwrap(_read_file(path), path, use_ema)
    out: dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(
                f"checkpoint {path}: entry {key!r} is a {type(value).__name__}, expected tensors only "
                f"(top-level keys: {_listed(list(sd))})"
            )
        name = str(key)
        while name.startswith("module."):  # saved from DataParallel / DistributedDataParallel
            name = name[len("module.") :]
        out[name] = value
    if not out:
        raise CheckpointError(f"checkpoint {path} holds no tensors")
    return out


def _model_name(model: nn.Module) -> str:
    variant = getattr(model, "variant", None)
    return variant or type(model).__name__


def _check_shapes(model_sd: Mapping[str, torch.Tensor], sd: Mapping[str, torch.Tensor], path: Path, name: str) -> None:
    for key, expected in model_sd.items():
        got = sd.get(key)
        if got is not None and tuple(got.shape) != tuple(expected.shape):
            guess = guess_variant(sd)
            hint = f"; the checkpoint looks like {guess}" if guess and guess != name else ""
            if key.startswith("head."):
                hint += "; to use another classifier size pass skip_head=True"
            raise CheckpointError(
                f"checkpoint {path} does not fit {name}: tensor {key!r} has shape {tuple(got.shape)} in the "
                f"checkpoint but {tuple(expected.shape)} in the model{hint}"
            )


def _train_time_twin(model: nn.Module, sd: Mapping[str, torch.Tensor]) -> nn.Module:
    """A train-time copy of a fused FastVit, with exactly those blocks fused that ``sd`` stores fused."""
    from fastvit_backbone.model import FastVit

    if not isinstance(model, FastVit):
        raise TypeError("only a FastVit can rebuild its train-time form")
    twin = FastVit(**{**model.init_kwargs, "inference_mode": False})
    twin.variant = model.variant
    for prefix, module in list(twin.named_modules()):
        if f"{prefix}.reparam_conv.weight" in sd and callable(getattr(module, "reparameterize", None)):
            module.reparameterize()
    param = next(model.parameters())
    return twin.to(param.device, param.dtype)


def load_checkpoint(
    model: nn.Module,
    path: str | Path,
    strict: bool = True,
    skip_head: bool = False,
    use_ema: bool = False,
) -> LoadResult:
    """Load a local checkpoint into ``model`` (in place).

    Args:
        model: a FastVit (train-time or reparameterized), or any module with our key names.
        path: the checkpoint file (safetensors or torch pickle; timm or apple names; train-time or fused).
        strict: every model key must be in the checkpoint and vice versa. Default: ``True``.
        skip_head: leave the classifier (``head.fc.*``) as it is and ignore the checkpoint's. A model without
            classifier (``num_classes=0``) always ignores it. Default: ``False``.
        use_ema: prefer the EMA weights when the file has them. Default: ``False``.

    Returns:
        a :class:`LoadResult`.

    Raises:
        CheckpointError: unreadable file; a tensor whose shape differs (named, with both shapes: usually another
            variant); missing or unexpected keys under ``strict`` (named); a fused checkpoint for a train-time model.
    """
    path = Path(path)
    sd = read_state_dict(path, use_ema=use_ema)
    source = "timm"
    if is_apple_format(sd):
        sd = convert_apple_state_dict(sd)
        source = "apple"
    name = _model_name(model)

    model_keys = list(model.state_dict().keys())
    skipped: list[str] = []
    has_head = any(k.startswith("head.") for k in model_keys)
    if skip_head or not has_head:
        skipped = [k for k in sd if k.startswith("head.")]
        sd = {k: v for k, v in sd.items() if not k.startswith("head.")}

    target: nn.Module = model
    fused_on_load = False
    if set(sd) != {k for k in model_keys if not (skip_head and k.startswith("head."))}:
        ckpt_fused, model_train = fused_keys(sd), train_time_keys(model_keys)
        if ckpt_fused and model_train:
            raise CheckpointError(
                f"checkpoint {path} holds reparameterized blocks (e.g. {ckpt_fused[0]!r}) but the {name} model is "
                "in train-time form: build it with inference_mode=True (or reparameterize_model it) to load this"
            )
        if train_time_keys(sd) and not model_train:
            target = _train_time_twin(model, sd)
            fused_on_load = True

    target_sd = target.state_dict()
    _check_shapes(target_sd, sd, path, name)
    expected_keys = [k for k in target_sd if not (skip_head and k.startswith("head."))]
    missing = [k for k in expected_keys if k not in sd]
    unexpected = [k for k in sd if k not in target_sd]
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s): {_listed(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {_listed(unexpected)}")
        guess = guess_variant(sd)
        hint = f"; the checkpoint looks like {guess}" if guess and guess != name else ""
        compared = " (compared with the model's train-time form)" if fused_on_load else ""
        raise CheckpointError(
            f"checkpoint {path} does not match the {name} model{compared}: " + "; ".join(parts) + hint
        )
    target.load_state_dict(sd, strict=False)

    if fused_on_load:
        from fastvit_backbone.reparam import reparameterize_model

        reparameterize_model(target, inplace=True)
        model.load_state_dict(
            {k: v for k, v in target.state_dict().items() if not (skip_head and k.startswith("head."))},
            strict=not skip_head,
        )
    return LoadResult(
        path=path,
        source_format=source,
        missing_keys=missing,
        unexpected_keys=unexpected,
        skipped_keys=skipped,
        fused_on_load=fused_on_load,
    )
