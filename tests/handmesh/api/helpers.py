"""Test helpers for the library API, the demo and the pipeline benchmark (imported by their conftests and tests).

* :func:`make_small_checkpoint`: an untrained small network (FastViT-T8 at 64 pixels, a small head) written as the
  fp16 fused inference checkpoint that the shipped weights also are; never committed, made at test time.
* :class:`GroundTruthStage`: a network stage that returns the known parameters of a rendered hand, expressed in
  each crop's (mirrored, for left hands) frame exactly as a perfect network would: it isolates the geometry around
  the network (cropping, mirroring, the camera solve, tracking) from the network's accuracy.
* :func:`render_hand`: a synthetic frame of a posed hand with its mask and ground truth.
* :class:`OracleDetector`: detections (box, keypoints, side) taken from the ground truth, counting its calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from handmesh.crop import HandCrop, mirror_points, mirror_rotation_matrices
from handmesh.detection.types import HandDetection

SIZE = (480, 640)  # (H, W)
K_TEST = np.array([[600.0, 0.0, 319.5], [0.0, 600.0, 239.5], [0.0, 0.0, 1.0]])


def make_small_checkpoint(path: Path, input_size: int = 64, seed: int = 0) -> Path:
    """Write an untrained small open-hand network as an fp16 fused inference checkpoint at ``path``."""
    from handmesh.config import config_to_dict, load_config
    from handmesh.network import build_network, save_inference_checkpoint, save_network

    torch.manual_seed(seed)
    cfg = load_config(
        None,
        [f"model.input_size={input_size}", "model.hand_model=open", "model.head_hidden=32", "model.ief_iterations=1"],
    )
    net = build_network(cfg.model)
    net.train()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so fusion has something to fuse
        net(torch.randn(2, 3, input_size, input_size))
    raw = save_network(net.eval(), path.with_name(path.stem + "_train.pt"), config_to_dict(cfg))
    return save_inference_checkpoint(raw, path)


@dataclass
class Truth:
    """A posed hand: absolute rotations, shape and its camera-frame mesh."""

    side: str
    rotmats: np.ndarray  # (16, 3, 3) absolute, the side's own model
    betas: np.ndarray  # (10,)
    joints: np.ndarray  # (21, 3) camera frame
    vertices: np.ndarray  # (V, 3) camera frame


_MODELS: dict[str, object] = {}


def hand_model(side: str):
    """The open hand model of ``side`` (cached)."""
    if side not in _MODELS:
        from handmesh.hand_model import build_hand_model

        _MODELS[side] = build_hand_model("open", side)
    return _MODELS[side]


def pose_hand(
    side: str,
    centre_px: tuple[float, float],
    depth: float = 0.45,
    curl: float = 0.3,
    roll_deg: float = 0.0,
    K: np.ndarray = K_TEST,
    seed: int = 0,
) -> Truth:
    """A hand, palm to the camera and fingers up (rolled by ``roll_deg``), its centroid at ``centre_px`` and
    ``depth`` metres."""
    from handmesh.synth.poses import HandFrame, curl_pose, rotation_matrix

    model = hand_model(side)
    frame = HandFrame.from_model(model)
    R0 = rotation_matrix(np.array([0.0, 0.0, np.deg2rad(roll_deg)])) @ frame.canonical_rotation()
    curls = np.full(5, curl) * np.array([0.5, 1.0, 1.1, 1.2, 1.3])
    fingers = rotation_matrix(curl_pose(frame, curls, 0.3, 0.0))  # (15, 3, 3) absolute
    rng = np.random.default_rng(seed)
    betas = np.clip(rng.normal(0.0, 0.5, 10), -1.5, 1.5)
    R = np.concatenate([R0[None], fingers])
    with torch.no_grad():
        Rt = torch.as_tensor(R, dtype=torch.float32)[None]
        out = model(Rt[:, 0], Rt[:, 1:], torch.as_tensor(betas, dtype=torch.float32)[None])
    verts, joints = out.vertices[0].double().numpy(), out.joints[0].double().numpy()
    target = np.array([(centre_px[0] - K[0, 2]) * depth / K[0, 0], (centre_px[1] - K[1, 2]) * depth / K[1, 1], depth])
    t = target - verts.mean(0)
    return Truth(side, R, betas, joints + t, verts + t)


def render_hand(
    truths: list[Truth], K: np.ndarray = K_TEST, size: tuple[int, int] = SIZE, background: int = 90
) -> tuple[np.ndarray, np.ndarray]:
    """``(frame (H, W, 3) uint8, mask (H, W) bool of any hand)`` of the hands over a plain background."""
    from handmesh.render import Mesh, render

    meshes = [Mesh(t.vertices, hand_model(t.side).faces.numpy(), color=(0.35, 0.6, 0.3)) for t in truths]
    bg = np.full(size + (3,), background, np.uint8)
    res = render(meshes, K, size, background=bg)
    return res.rgb, res.mask


def project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    return points[..., :2] / points[..., 2:] * K[[0, 1], [0, 1]] + K[:2, 2]


@dataclass
class GroundTruthStage:
    """A network stage returning ``truths`` seen through each crop (the truth nearest the crop's centre)."""

    K: np.ndarray
    input_size: int = 64
    hand_model: str = "open"
    truths: list[Truth] = field(default_factory=list)
    calls: int = 0

    def predict(self, images: np.ndarray, crops: list[HandCrop]) -> SimpleNamespace:
        assert images.shape[1:] == (self.input_size, self.input_size, 3) and images.dtype == np.uint8
        self.calls += 1
        out: dict[str, list[np.ndarray]] = {k: [] for k in ("rotmats", "betas", "vertices", "joints", "joints2d")}
        S = self.input_size
        for crop in crops:
            centre = (crop.box[:2] + crop.box[2:]) / 2
            truth = min(self.truths, key=lambda t: np.linalg.norm(project(t.joints, self.K).mean(0) - centre))
            root = truth.joints[0]
            R, joints, verts = truth.rotmats, truth.joints - root, truth.vertices - root
            if crop.mirrored:  # what the network sees: the mirrored world
                R, joints, verts = mirror_rotation_matrices(R), mirror_points(joints), mirror_points(verts)
            uv = crop.to_crop(project(truth.joints, self.K))
            out["rotmats"].append(R)
            out["betas"].append(truth.betas)
            out["vertices"].append(verts)
            out["joints"].append(joints)
            out["joints2d"].append((uv - S / 2) / (S / 2))
        return SimpleNamespace(**{k: np.stack(v).astype(np.float32) for k, v in out.items()})


@dataclass
class OracleDetector:
    """Detections from ``truths``: keypoints projected with ``K``, the true side, score 0.9."""

    K: np.ndarray
    truths: list[Truth] = field(default_factory=list)
    calls: int = 0
    world: bool = False  # also give metric landmarks (the true keypoints about their centre), as MediaPipe does

    def detect(self, frame_rgb: np.ndarray, timestamp_ms: int | None = None) -> list[HandDetection]:
        self.calls += 1
        out = []
        for t in self.truths:
            kp = project(t.joints, self.K)
            world = t.joints - t.joints.mean(axis=0) if self.world else None
            box = np.concatenate([kp.min(0), kp.max(0)])
            out.append(HandDetection(box, t.side, 0.9, kp, world))  # type: ignore[arg-type]
        return out

    def close(self) -> None:
        pass
