"""The hand mesh network: FastViT encoder -> iterative-error-feedback head -> hand model, and its checkpoints.

    from handmesh.network import build_network, load_network
    net = build_network(cfg.model)                       # from the config's model section
    net, info = load_network("runs/t8/last.pt")          # a trained network in eval mode, with what it needs
    out = net(images)                                    # HandMeshOutput: rotmats, betas, cam, vertices, joints, ...

Where things are:
    model.py       HandMeshNet, HandMeshOutput
    head.py        IEFRegressor, mean_parameters
    build.py       build_network (config -> network), model.pretrained loading
    checkpoint.py  the checkpoint format, load_network, CheckpointInfo, save_inference_checkpoint
    predictor.py   NetworkPredictor: crops + intrinsics -> camera-frame keypoints and vertices
"""

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
from handmesh.network.predictor import NetworkPredictor, resolve_device

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointInfo",
    "HandMeshNet",
    "HandMeshOutput",
    "IEFRegressor",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MeanParameters",
    "NetworkPredictor",
    "build_network",
    "is_handmesh_checkpoint",
    "load_network",
    "load_pretrained",
    "make_checkpoint",
    "mean_parameters",
    "network_info",
    "read_checkpoint",
    "resolve_device",
    "save_inference_checkpoint",
    "save_network",
]
