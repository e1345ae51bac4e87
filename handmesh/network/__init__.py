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

from handmesh.utils.lazy import lazy_attributes

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
__all__ = sorted(_WHERE)


__getattr__, __dir__ = lazy_attributes(__name__, _WHERE, globals())
