"""State-dict formats: recognising them, converting apple's ml-fastvit names to ours (= timm's), and guessing the
variant a state dict belongs to.

Apple's original code (``models/fastvit.py``, ``models/modules/mobileone.py``, ``models/modules/replknet.py``)
names the same tensors differently:

=====================================  ==========================================
apple ml-fastvit                        ours / timm
=====================================  ==========================================
``patch_embed.N``                      ``stem.N``
``rbr_conv`` / ``rbr_scale`` / ``rbr_skip``  ``conv_kxk`` / ``conv_scale`` / ``identity``
``lkb_origin`` / ``lkb_reparam``       ``large_conv`` / ``reparam_conv``
``convffn``                            ``mlp``
``layer_scale`` (a parameter)          ``layer_scale.gamma`` (likewise ``_1``, ``_2``)
``network.K`` (flat list)              ``stages.S.downsample`` / ``stages.S.pos_emb`` / ``stages.S.blocks``
``network.K.pe``                       ``stages.S.pos_emb.pos_enc``
``conv_exp``, ``se.reduce/expand``     ``final_conv``, ``se.fc1/fc2``
``head.weight``                        ``head.fc.weight``
=====================================  ==========================================

Apple's ``network`` list holds, per stage: the RepCPE (if any), the blocks, then the patch embedding that leads
into the *next* stage; ours puts the patch embedding at the start of the stage it feeds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from fastvit_backbone.variants import VARIANTS

APPLE_PREFIXES = ("patch_embed.", "network.", "conv_exp.")

# Simple renames, applied to every key in this order.
_APPLE_RENAMES: tuple[tuple[str, str], ...] = (
    ("rbr_conv", "conv_kxk"),
    ("rbr_scale", "conv_scale"),
    ("rbr_skip", "identity"),
    ("lkb_origin", "large_conv"),
    ("lkb_reparam", "reparam_conv"),
    ("convffn", "mlp"),
    ("conv_exp", "final_conv"),
    ("se.reduce", "se.fc1"),
    ("se.expand", "se.fc2"),
)
_NETWORK_KEY = re.compile(r"^network\.(\d+)\.(.*)$")
_LAYER_SCALE = re.compile(r"(^|\.)(layer_scale(?:_[12])?)$")

# Keys that exist only in the train-time form, and the key part that exists only in fused form.
_TRAIN_ONLY = re.compile(
    r"\.(conv_kxk|conv_scale|identity|large_conv|small_conv|pos_enc)\.|\.token_mixer\.(mixer|norm)\.|\.mlp\.conv\."
    r"|layer_scale|\.blocks\.\d+\.norm\."
)
_FUSED_ONLY = re.compile(r"(^|\.)reparam_conv\.")


def is_apple_format(state_dict: Mapping[str, torch.Tensor]) -> bool:
    """Whether the keys use apple ml-fastvit's names (``patch_embed.``, ``network.``)."""
    return any(k.startswith(APPLE_PREFIXES) for k in state_dict)


def train_time_keys(keys: list[str] | Mapping[str, object]) -> list[str]:
    """The keys that only a train-time (not reparameterized) block has."""
    return [k for k in keys if _TRAIN_ONLY.search(k)]


def fused_keys(keys: list[str] | Mapping[str, object]) -> list[str]:
    """The keys that only a reparameterized block has (``...reparam_conv.*``)."""
    return [k for k in keys if _FUSED_ONLY.search(k)]


def _network_layout(keys: list[str]) -> dict[int, tuple[str, int]]:
    """Map each ``network.K`` index to (kind, stage): kind is ``downsample``, ``pos_emb`` or ``blocks``."""
    kinds: dict[int, str] = {}
    for key in keys:
        m = _NETWORK_KEY.match(key)
        if not m:
            continue
        idx, rest = int(m.group(1)), m.group(2)
        if rest.startswith("proj."):
            kind = "downsample"
        elif rest.startswith(("pe.", "reparam_conv.")):
            kind = "pos_emb"
        else:
            kind = "blocks"
        kinds.setdefault(idx, kind)
    layout: dict[int, tuple[str, int]] = {}
    stage = 0
    for idx in sorted(kinds):
        if kinds[idx] == "downsample":
            stage += 1  # apple's patch embedding ends a stage; ours starts the next one
        layout[idx] = (kinds[idx], stage)
    return layout


def convert_apple_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an apple ml-fastvit state dict (train-time or reparameterized) to our/timm names.

    Args:
        state_dict: apple's keys (``patch_embed.*``, ``network.*``, ``conv_exp.*``, ``head.*``), without a
            ``module.`` prefix.

    Returns:
        a new dict with the same tensors under our names.
    """
    layout = _network_layout(list(state_dict))
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        new = key
        for old, repl in _APPLE_RENAMES:
            new = new.replace(old, repl)
        if new.startswith("patch_embed."):
            new = "stem." + new[len("patch_embed.") :]
        m = _NETWORK_KEY.match(new)
        if m:
            kind, stage = layout[int(m.group(1))]
            rest = m.group(2)
            if kind == "downsample":
                new = f"stages.{stage}.downsample.{rest}"
            elif kind == "pos_emb":
                rest = "pos_enc." + rest[len("pe.") :] if rest.startswith("pe.") else rest
                new = f"stages.{stage}.pos_emb.{rest}"
            else:
                new = f"stages.{stage}.blocks.{rest}"
        new = _LAYER_SCALE.sub(r"\1\2.gamma", new)
        if new in ("head.weight", "head.bias"):
            new = "head.fc." + new.split(".", 1)[1]
        out[new] = value
    return out


def guess_variant(state_dict: Mapping[str, torch.Tensor]) -> str | None:
    """The variant whose architecture a (our-format) state dict has, from its stem width, block counts, MLP
    ratio and attention stage; ``None`` if it matches none.

    Args:
        state_dict: our/timm keys, train-time or reparameterized.

    Returns:
        a canonical variant name or ``None``.
    """
    stem = state_dict.get("stem.0.reparam_conv.weight", state_dict.get("stem.0.conv_kxk.0.conv.weight"))
    fc1 = state_dict.get("stages.0.blocks.0.mlp.fc1.weight")
    if stem is None or fc1 is None:
        return None
    width = int(stem.shape[0])
    depth: dict[int, int] = {}
    for key in state_dict:
        m = re.match(r"^stages\.(\d+)\.blocks\.(\d+)\.", key)
        if m:
            s, b = int(m.group(1)), int(m.group(2))
            depth[s] = max(depth.get(s, 0), b + 1)
    layers = tuple(depth.get(s, 0) for s in range(4))
    ratio = int(fc1.shape[0]) / width
    attention_last = any(k.startswith("stages.3.blocks.0.token_mixer.qkv.") for k in state_dict)
    for v in VARIANTS.values():
        if (
            v.layers == layers
            and v.embed_dims[0] == width
            and abs(v.mlp_ratios[0] - ratio) < 1e-6
            and (v.token_mixers[3] == "attention") == attention_last
        ):
            return v.name
    return None
