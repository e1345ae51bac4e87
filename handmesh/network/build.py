"""``build_network(cfg.model)``: the one place where the ``model`` section of the config becomes a network.

Initialisation from ``model.pretrained``, a local file (nothing is downloaded):

* a FastViT ImageNet checkpoint in timm or apple format (safetensors or a torch pickle) initialises the encoder;
  its classifier is ignored;
* a handmesh checkpoint (e.g. a run on synthetic data) initialises the whole network, for fine-tuning; it must be
  of the same variant and head.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from handmesh.errors import CheckpointError, MissingFileError
from handmesh.network.model import HandMeshNet

__all__ = ["build_network", "load_pretrained"]

logger = logging.getLogger(__name__)


def build_network(
    model_cfg: Any,
    *,
    hand_model: Any = None,
    pretrained: bool = True,
    inference_mode: bool = False,
) -> HandMeshNet:
    """Build a :class:`HandMeshNet` from the config's ``model`` section.

    Reads ``variant``, ``input_size``, ``hand_model``, ``mano_dir``, ``pretrained``, ``feature_fusion``,
    ``ief_iterations``, ``head_hidden``, ``head_dropout``, ``drop_path_rate``.

    Args:
        model_cfg: :class:`~handmesh.config.ModelConfig` (or any object with those attributes).
        hand_model: a ready right-hand model layer to use instead of building ``model_cfg.hand_model``.
            Default: None.
        pretrained: load ``model_cfg.pretrained`` when it is set. Default: True.
        inference_mode: build the encoder reparameterized. Default: False.

    Raises:
        ConfigError: unknown hand model name, bad input size.
        MissingFileError: the MANO files or the ``model.pretrained`` file are missing (named, with what belongs
            there).
        CheckpointError: ``model.pretrained`` does not fit the network (another variant, corrupt file).
    """
    if hand_model is None:
        from handmesh.hand_model import build_hand_model

        hand_model = build_hand_model(model_cfg.hand_model, "right", model_cfg.mano_dir)
    net = HandMeshNet(
        hand_model,
        variant=model_cfg.variant,
        input_size=model_cfg.input_size,
        feature_fusion=model_cfg.feature_fusion,
        ief_iterations=model_cfg.ief_iterations,
        head_hidden=model_cfg.head_hidden,
        head_dropout=model_cfg.head_dropout,
        head=model_cfg.head,
        drop_path_rate=model_cfg.drop_path_rate,
        inference_mode=inference_mode,
    )
    if pretrained and model_cfg.pretrained:
        load_pretrained(net, model_cfg.pretrained)
    return net


def load_pretrained(net: HandMeshNet, path: str | os.PathLike) -> str:
    """Initialise ``net`` from a local ImageNet FastViT checkpoint (encoder) or a handmesh checkpoint (all).

    Args:
        net: the network (train-time form).
        path: the file.

    Returns:
        ``"imagenet"`` or ``"handmesh"``: what was loaded.

    Raises:
        MissingFileError: no such file.
        CheckpointError: unreadable, or it does not fit (another variant: the message names both).
    """
    from handmesh.network.checkpoint import is_handmesh_checkpoint, load_state_strict, read_checkpoint

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(
            f"model.pretrained = {str(path)!r} does not exist: put a FastViT ImageNet checkpoint for {net.variant} "
            f"there (timm's {net.variant}.apple_in1k model.safetensors or apple's {net.variant}.pth.tar, "
            "downloaded by hand), or a handmesh checkpoint to fine-tune, or set model.pretrained=null to train from "
            "scratch"
        )
    if is_handmesh_checkpoint(path):
        ckpt = read_checkpoint(path)
        info = ckpt["info"]
        if info.get("variant") != net.variant:
            raise CheckpointError(
                f"model.pretrained = {path}: a handmesh checkpoint of {info.get('variant')}, but model.variant is "
                f"{net.variant}; use a checkpoint of the same variant or set model.variant={info.get('variant')}"
            )
        state = ckpt.get("ema") or ckpt["model"]
        load_state_strict(net, state, path)
        logger.info("initialised the whole network from handmesh checkpoint %s", path)
        return "handmesh"
    from fastvit_backbone import load_checkpoint
    from fastvit_backbone.errors import CheckpointError as BackboneCheckpointError

    try:
        result = load_checkpoint(net.backbone, path, strict=True)
    except BackboneCheckpointError as e:
        raise CheckpointError(f"model.pretrained: {e}") from e
    logger.info("initialised the %s encoder from %s (%s format)", net.variant, path, result.source_format)
    return "imagenet"
