"""The weights shipped with the package: what they are, and that they put a mesh on the sample clip's hand better
than the mean hand does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from handmesh.api import DEFAULT_CHECKPOINT, load_runtime
from handmesh.config import config_to_dict, load_config
from handmesh.metrics import align_w_scale
from handmesh.network import load_network, read_checkpoint
from handmesh.pipeline.estimator import HandEstimator
from handmesh.pipeline.network import RuntimeStage

from .helpers import OracleDetector, hand_model, project
from .test_real_detection import _clip_truths, _frames

MAX_BYTES = 10 * 1024 * 1024


def test_shipped_weights_are_a_small_fused_float16_t8() -> None:
    assert DEFAULT_CHECKPOINT.is_file(), f"{DEFAULT_CHECKPOINT} is part of the package"
    assert DEFAULT_CHECKPOINT.stat().st_size <= MAX_BYTES
    ckpt = read_checkpoint(DEFAULT_CHECKPOINT)
    floats = [v for v in ckpt["model"].values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    net, info = load_network(DEFAULT_CHECKPOINT)
    assert info.variant == "fastvit_t8" and info.hand_model == "open" and info.reparameterized
    # Trained with the recipe as configs/synthetic_t8.yaml states it now (only where the run wrote and how many
    # threads it used may differ), to its last step.
    recipe = config_to_dict(load_config(Path(__file__).resolve().parents[3] / "configs" / "synthetic_t8.yaml", []))
    for section in ("model", "data", "loss", "optim"):
        assert info.config[section] == recipe[section], section
    assert info.step == info.config["optim"]["max_steps"] >= 4200  # the whole recipe, not an early snapshot


def _pa_mpjpe_mm(pred: np.ndarray, truth: np.ndarray) -> float:
    gt = truth - truth[:1]
    return float(np.linalg.norm(align_w_scale(gt[None], (pred - pred[:1])[None])[0] - gt, axis=-1).mean() * 1000)


def test_shipped_weights_find_the_hand_in_the_sample_clip() -> None:
    n = 12
    truths, K = _clip_truths(n)
    rt = load_runtime(DEFAULT_CHECKPOINT, backend="torch", device="cpu")
    with torch.no_grad():  # the untrained network's answer: the model's mean pose and shape
        mean_hand = hand_model("right")(torch.zeros(1, 3), torch.zeros(1, 15, 3), torch.zeros(1, 10))
    mean_joints = mean_hand.joints[0].double().numpy()
    detector = OracleDetector(K)
    errors, baseline, offsets = [], [], []
    with HandEstimator(RuntimeStage(rt), detector, mode="image", max_hands=1) as est:
        for frame, truth in zip(_frames(n), truths):
            detector.truths = [truth]
            (hand,) = est(frame, K)
            assert hand.handedness == "right" and np.isfinite(hand.vertices).all()
            errors.append(_pa_mpjpe_mm(hand.joints.astype(np.float64), truth.joints))
            baseline.append(_pa_mpjpe_mm(mean_joints, truth.joints))
            uv_true = project(truth.joints, K)
            side = float(np.ptp(uv_true, axis=0).max())
            offsets.append(float(np.linalg.norm(hand.joints2d - uv_true, axis=1).mean()) / side)
    # The 2D keypoints land on the hand (mean error a small fraction of its size) ...
    assert np.mean(offsets) < 0.16, offsets
    # ... and the articulation is closer to the truth than the mean hand's.
    assert np.mean(errors) < np.mean(baseline), (np.mean(errors), np.mean(baseline))
