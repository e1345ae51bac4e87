"""The library API: ``handmesh.load`` -> an estimator that turns frames into hands.

    import handmesh
    estimator = handmesh.load()                       # shipped weights, fastest backend here, MediaPipe detection
    hands = estimator(frame_rgb)                      # list[handmesh.Hand]
    for hand in hands:
        print(hand.handedness, hand.joints[8])        # index fingertip, camera frame, metres
    picture = estimator.render(frame_rgb, hands)      # the mesh drawn over the frame

Coordinates (see :mod:`handmesh.pipeline.hand`): camera frame of the input image, metres, OpenCV axes (x right,
y down, z forward); pixels with the origin at the top-left corner and pixel centres at integers.

Intrinsics: pass the camera's ``K`` (3x3, pixels) to ``estimator(frame, K)`` when you know it. Without it the
estimator assumes a 60 degree field of view across the longer image side with the principal point at the image
centre (:func:`handmesh.geometry.camera_solve.default_intrinsics`: ``f = 0.866 max(W, H)``, 554 pixels at 640x480),
typical of webcams. A wrong focal length mostly moves the hand along the viewing ray (its depth scales with ``f``,
its size in metres does not change), so the overlay still lands on the hand.

Weights: :data:`DEFAULT_CHECKPOINT` is the FastViT-T8 network shipped with the package, trained on synthetic renders
of the open hand only (see the README for what that means on real hands and how to train on FreiHAND).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from handmesh.crop import DEFAULT_EXPAND
from handmesh.errors import MissingFileError
from handmesh.pipeline.estimator import HandEstimator
from handmesh.pipeline.hand import Hand
from handmesh.pipeline.network import NetworkStage

if TYPE_CHECKING:
    from handmesh.runtime.base import Runtime

__all__ = ["DEFAULT_CHECKPOINT", "Hand", "HandEstimator", "default_checkpoint", "load", "load_runtime"]

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "assets" / "handmesh_t8_synthetic.pt"
"""The shipped weights: FastViT-T8, fused, float16, trained with ``configs/synthetic_t8.yaml`` on synthetic renders."""


def default_checkpoint() -> Path:
    """:data:`DEFAULT_CHECKPOINT`, checked.

    Raises:
        MissingFileError: the file is not there (a source checkout without the weights), with what to do instead.
    """
    if not DEFAULT_CHECKPOINT.is_file():
        raise MissingFileError(
            f"the shipped weights {DEFAULT_CHECKPOINT} are missing (a broken installation, or a source checkout "
            "made before they were added). Pass a checkpoint of your own (checkpoint=... in Python, --checkpoint on "
            "the command line): a handmesh-train checkpoint or an exported .onnx; train one with "
            "`handmesh-train --config configs/synthetic_t8.yaml` (synthetic data) or "
            "`handmesh-train --config configs/fastvit_t8_freihand.yaml` (FreiHAND)"
        )
    return DEFAULT_CHECKPOINT


def load(
    checkpoint: str | os.PathLike | None = None,
    backend: str = "auto",
    hand_model: Literal["open", "mano"] | None = None,
    mode: Literal["image", "video"] = "image",
    max_hands: int = 2,
    *,
    refine: Literal["landmarks", "none"] = "landmarks",
    device: str = "auto",
    threads: int | None = None,
    detector: str = "mediapipe",
    hand_landmarker: str | os.PathLike | None = None,
    mirrored_input: bool = False,
    min_detection_confidence: float = 0.5,
    detector_box: tuple[float, float, float, float] | None = None,
    detector_handedness: Literal["left", "right"] = "right",
    expand: float = DEFAULT_EXPAND,
    redetect_every: int = 1,
    smoothing: bool = True,
    mano_dir: str | os.PathLike | None = None,
    network: NetworkStage | None = None,
) -> HandEstimator:
    """Load the network and a hand detector: the estimator ``hands = estimator(frame_rgb, K=None)``.

    Args:
        checkpoint: a handmesh checkpoint (``.pt``, training or inference) or an exported artefact (``.onnx``,
            TorchScript, ``.mlpackage``). Default: None (the shipped weights, :data:`DEFAULT_CHECKPOINT`).
        backend: ``"auto"`` (the fastest available here: ONNX Runtime when installed, else PyTorch), ``"torch"``,
            ``"onnxruntime"``, ``"torchscript"`` or ``"coreml"`` (see :func:`load_runtime`).
            Default: ``"auto"``.
        hand_model: ``"open"`` or ``"mano"``: the hand model of the returned meshes. Default: None (the one the
            network was trained with). Another model is posed with the network's joint rotations in its mean
            shape (shape coefficients do not carry over between models); ``"mano"`` needs the licensed files.
        mode: ``"image"`` (every frame on its own, no smoothing: photos) or ``"video"`` (a stream: MediaPipe
            tracks the hands between frames and its landmarks place the crops, tracks keep their identity and side,
            One Euro smoothing of pose, shape and translation, the last frame's fit as a prior). Default:
            ``"image"``.
        max_hands: most hands per frame. Default: 2.
        refine: ``"landmarks"``: fit the hand model's pose and translation to the detector's 21 image and metric
            landmarks, with the network's prediction as initial value and prior and anatomical joint limits
            (:mod:`handmesh.fitting`); hands without usable landmarks (``detector="none"``/``"box"``, or a failed
            check) come back as the network made them, with ``Hand.refined`` False. ``"none"``: the network alone
            (to judge FreiHAND-trained weights on their own). Default: ``"landmarks"``.
        device: where a PyTorch backend runs (``"auto"``, ``"cpu"``, ``"cuda"``, ``"mps"``). Default: ``"auto"``.
        threads: CPU threads of the network's backend. Default: None (the backend's default).
        detector: ``"mediapipe"`` (HandLandmarker from the offline bundle), ``"none"`` (the centred square of the
            frame is the hand) or ``"box"`` (``detector_box`` is the hand). Default: ``"mediapipe"``.
        hand_landmarker: MediaPipe ``.task`` bundle. Default: None (built once by ``handmesh-demo
            --setup-detector``, then found in the cache).
        mirrored_input: frames are mirror images (a flipped selfie preview): MediaPipe's handedness is swapped to
            name the person's hand. Default: False.
        min_detection_confidence: MediaPipe's palm detection threshold. Default: 0.5.
        detector_box: ``(x0, y0, x1, y1)`` pixels for ``detector="box"``.
        detector_handedness: the side the ``"none"`` and ``"box"`` detectors report. Default: ``"right"``.
        expand: crop side / the detected keypoints' box side. Default: 1.6.
        redetect_every: video mode: detect at least every this many frames. Default: 1 (every frame; the fit
            needs the landmarks, and crops placed from them cannot drift).
        smoothing: video mode: One Euro smoothing. Default: True.
        mano_dir: where the MANO files are. Default: ``$HANDMESH_MANO_DIR``, then ``data/mano``.
        network: a ready network stage to use instead of loading ``checkpoint`` (tests, custom runtimes).
            Default: None.

    Returns:
        A :class:`~handmesh.pipeline.estimator.HandEstimator` (close it, or use it in a ``with`` block, to
        release the detector).

    Raises:
        MissingFileError: the checkpoint, the detector bundle or the MANO files are missing (the message says how
            to get them).
        CheckpointError: the checkpoint is not a usable handmesh network.
        BackendUnavailableError: the backend or device is not available here.
        ConfigError: an impossible option value.
    """
    from handmesh.detection import build_detector
    from handmesh.errors import ConfigError

    if refine not in ("landmarks", "none"):
        raise ConfigError(f"refine must be 'landmarks' or 'none', got {refine!r}")
    if network is None:
        from handmesh.pipeline.network import RuntimeStage

        source = default_checkpoint() if checkpoint is None else Path(checkpoint).expanduser()
        if not source.exists():
            raise MissingFileError(f"checkpoint {source} does not exist")
        options = {"mano_dir": str(mano_dir)} if mano_dir is not None and source.suffix == ".pt" else {}
        network = RuntimeStage(load_runtime(source, backend=backend, device=device, threads=threads, **options))
    det = build_detector(
        detector,
        hand_landmarker=hand_landmarker,
        mode=mode,
        max_hands=max_hands,
        min_detection_confidence=min_detection_confidence,
        mirrored_input=mirrored_input,
        box=detector_box,
        handedness=detector_handedness,
    )
    try:
        estimator = HandEstimator(
            network,
            det,
            hand_model=hand_model,
            mode=mode,
            max_hands=max_hands,
            expand=expand,
            redetect_every=redetect_every,
            smoothing=smoothing,
            mano_dir=None if mano_dir is None else str(mano_dir),
        )
        if refine == "landmarks":
            from handmesh.fitting import LandmarkFitter

            estimator.refiner = LandmarkFitter(estimator.model("right"), temporal=mode == "video")
        return estimator
    except BaseException:
        det.close()
        raise


def load_runtime(
    source: Any, backend: str = "auto", device: str = "auto", threads: int | None = None, **options: Any
) -> Runtime:
    """:func:`handmesh.runtime.load_runtime` with exports made on demand: a checkpoint asked to run on ONNX Runtime
    or TorchScript (or on ``"auto"`` on a CPU) is exported once, checked against PyTorch, and cached by its content
    hash (:mod:`handmesh.export.cache`). Same arguments and errors."""
    from handmesh.export.cache import export_for_runtime
    from handmesh.runtime import load_runtime as open_runtime

    return open_runtime(source, backend=backend, device=device, threads=threads, exporter=export_for_runtime, **options)
