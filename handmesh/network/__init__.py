"""The hand mesh network: FastViT encoder -> iterative-error-feedback head -> hand model, and its checkpoints.

    from handmesh.network import build_network, load_network
    net = build_network(cfg.model)                       # from the config's model section
    net, info = load_network("runs/t8/last.pt")          # a trained network in eval mode, with what it needs
    out = net(images)                                    # HandMeshOutput: rotmats, betas, cam, vertices, joints, ...

Where things are:
    model.py       HandMeshNet, HandMeshOutput
    head.py        IEFRegressor (the pooled head, model.head=pooled), mean_parameters
    spatial_head.py  SpatialHead (model.head=spatial): tokens at soft-argmax keypoints of the stride-16/32 maps
    build.py       build_network (config -> network), model.pretrained loading
    checkpoint.py  the checkpoint format, load_network, CheckpointInfo, save_inference_checkpoint
    predictor.py   NetworkPredictor: crops + intrinsics -> camera-frame keypoints and vertices; devices
    outputs.py     the network's outputs declared once (names, shapes, meaning); imports nothing heavy

Importing this package does no work: torch and the encoder load on first use of a name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from handmesh.utils.lazy import lazy_attributes

__all__ = [
    "build_network",
    "check_torch_device",
    "CHECKPOINT_FORMAT",
    "CheckpointInfo",
    "HandMeshNet",
    "HandMeshOutput",
    "IEFRegressor",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "is_handmesh_checkpoint",
    "load_network",
    "load_pretrained",
    "make_checkpoint",
    "mean_parameters",
    "MeanParameters",
    "network_info",
    "NETWORK_OUTPUTS",
    "NetworkPredictor",
    "OUTPUT_NAMES",
    "read_checkpoint",
    "resolve_device",
    "save_inference_checkpoint",
    "save_network",
]

# The encoder imports torch and timm: load the modules on first use only.
_WHERE = {
    "build_network": "build",
    "load_pretrained": "build",
    "CHECKPOINT_FORMAT": "checkpoint",
    "CheckpointInfo": "checkpoint",
    "is_handmesh_checkpoint": "checkpoint",
    "load_network": "checkpoint",
    "make_checkpoint": "checkpoint",
    "network_info": "checkpoint",
    "read_checkpoint": "checkpoint",
    "save_inference_checkpoint": "checkpoint",
    "save_network": "checkpoint",
    "IEFRegressor": "head",
    "MeanParameters": "head",
    "mean_parameters": "head",
    "IMAGENET_MEAN": "model",
    "IMAGENET_STD": "model",
    "HandMeshNet": "model",
    "HandMeshOutput": "model",
    "NetworkPredictor": "predictor",
    "resolve_device": "predictor",
    "check_torch_device": "predictor",
    "NETWORK_OUTPUTS": "outputs",
    "OUTPUT_NAMES": "outputs",
}

if TYPE_CHECKING:
    from handmesh.network.build import build_network, load_pretrained
    from handmesh.network.checkpoint import (
        CHECKPOINT_FORMAT,
        CheckpointInfo,
        is_handmesh_checkpoint,
        load_network,
        make_checkpoint,
        network_info,
        read_checkpoint,
        save_inference_checkpoint,
        save_network,
    )
    from handmesh.network.head import IEFRegressor, MeanParameters, mean_parameters
    from handmesh.network.model import IMAGENET_MEAN, IMAGENET_STD, HandMeshNet, HandMeshOutput
    from handmesh.network.outputs import NETWORK_OUTPUTS, OUTPUT_NAMES
    from handmesh.network.predictor import NetworkPredictor, check_torch_device, resolve_device


__getattr__, __dir__ = lazy_attributes(__name__, _WHERE, globals())
