"""``handmesh-synth video``: a short clip of a moving, articulating hand over a procedural background, with
per-frame ground truth in a JSON sidecar (same name, ``.json``).

Sidecar (all metres, OpenCV camera frame, keypoints in the FreiHAND/OpenPose 21-keypoint order)::

    {"format": "handmesh-synth/clip", "format_version": 1, "video": "<file name>", "fps", "width", "height",
     "num_frames", "handedness": "right" | "left", "hand_model": "open" | "mano", "K": 3x3,
     "frames": [{"index", "time", "keypoints2d": 21x2 px, "keypoints3d": 21x3,
                 "vertices": 778x3 (unless written without them),
                 "hand_params": {"global_orient": 3, "hand_pose": 45, "betas": 10, "transl": 3}}, ...]}

``hand_params`` are axis-angle in smplx's convention (``hand_pose`` relative to the model's ``hands_mean``): with
``build_hand_model(hand_model, side=handedness)`` they reproduce ``vertices`` and ``keypoints3d``, which is how
:func:`load_clip` fills in vertices for sidecars written without them. ``hand_model_sha256`` fingerprints the model
the clip was made with, so that a sidecar is never completed with a different model's vertices.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handmesh.errors import ConfigError, DataError, MissingFileError
from handmesh.geometry.projection import project_pinhole
from handmesh.hand_model.model import model_fingerprint
from handmesh.utils.atomic import atomic_write_json

FINGER_COUPLING = np.array(
    [
        [0.85, 0.15, 0.0, 0.0],
        [0.15, 0.7, 0.15, 0.0],
        [0.0, 0.25, 0.5, 0.25],
        [0.0, 0.0, 0.3, 0.7],
    ]
)
"""How the curls of the index, middle, ring and little fingers (rows) mix their own drive with their neighbours'
(columns) at ``finger_coupling=1``: the index is the most independent finger and the ring the least (Häger-Ross and
Schieber, J. Neurosci. 2000, measured the same order). Rows sum to 1, so curls stay within 0-1. With the middle and
little fingers fully curled the ring finger can straighten only to half its curl."""

CLIP_FORMAT = "handmesh-synth/clip"
CLIP_FORMAT_VERSION = 1
FOURCC = "mp4v"  # MPEG-4 part 2: what opencv-python's bundled FFmpeg both writes and reads (no H.264 encoder)


@dataclass
class ClipConfig:
    """What clip to make.

    Args:
        seconds: duration. Default: 5.
        fps: frames per second. Default: 30.
        width: frame width in pixels. Default: 640.
        height: frame height in pixels. Default: 480.
        seed: non-negative random seed (background, colours, motion). Default: 0.
        side: ``"right"`` or ``"left"`` hand. Default: ``"right"``.
        hand_model: ``"open"`` or ``"mano"``. Default: ``"open"``.
        mano_dir: where the MANO files are, for ``hand_model="mano"``. Default: the usual search path.
        vertices: write per-frame vertices into the sidecar (about 2.5 MB for 5 s at 30 fps); without them the
            sidecar keeps only parameters and keypoints and :func:`load_clip` recomputes the vertices.
            Default: True.
        plain_background: a uniform grey background instead of a procedural one. Default: False.
        finger_coupling: 0-1, how much each long finger's curl follows its neighbours' (:data:`FINGER_COUPLING`).
            Real fingers are not independent: shared tendons and muscles (the juncturae tendinum, the deep flexor's
            common belly) keep the ring finger from straightening while the middle and little fingers are fully
            curled, and a hand landmarker trained on real hands reads such a pose as another finger. 0 animates
            each finger on its own, as the shipped sample clip was made. Default: 1.
    """

    seconds: float = 5.0
    fps: int = 30
    width: int = 640
    height: int = 480
    seed: int = 0
    side: str = "right"
    hand_model: str = "open"
    mano_dir: str | None = None
    vertices: bool = True
    plain_background: bool = False
    finger_coupling: float = 1.0

    def validate(self) -> None:
        """Raise :class:`~handmesh.errors.ConfigError` naming the first impossible setting."""
        if not self.seconds > 0 or not 1 <= self.fps <= 240:
            raise ConfigError(f"clip length must be > 0 s at 1..240 fps, got {self.seconds} s at {self.fps} fps")
        if not (64 <= self.width <= 4096 and 64 <= self.height <= 4096):
            raise ConfigError(f"frame size must be 64..4096 pixels a side, got {self.width}x{self.height}")
        if self.side not in ("right", "left"):
            raise ConfigError(f"side must be 'right' or 'left', got {self.side!r}")
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        if not 0.0 <= self.finger_coupling <= 1.0:
            raise ConfigError(f"finger_coupling must be in 0..1, got {self.finger_coupling}")

    @property
    def num_frames(self) -> int:
        """Frames in the clip (at least one)."""
        return max(1, int(round(self.seconds * self.fps)))


@dataclass
class ClipAnnotations:
    """Per-frame ground truth of a clip, as arrays.

    Attributes:
        K: ``(3, 3)`` intrinsics.
        keypoints2d: ``(T, 21, 2)`` pixels.
        keypoints3d: ``(T, 21, 3)`` metres.
        vertices: ``(T, V, 3)`` metres.
        global_orient: ``(T, 3)``; hand_pose: ``(T, 45)``; betas: ``(T, 10)``; transl: ``(T, 3)``.
        handedness: ``"right"`` or ``"left"``.
        fps: frames per second.
        size: ``(H, W)``.
        hand_model: the model name that reproduces ``vertices`` from the parameters.
    """

    K: np.ndarray
    keypoints2d: np.ndarray
    keypoints3d: np.ndarray
    vertices: np.ndarray
    global_orient: np.ndarray
    hand_pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray
    handedness: str
    fps: float
    size: tuple[int, int]
    hand_model: str


def _smooth(rng: np.random.Generator, t: np.ndarray, base_hz: float, n: int = 2) -> np.ndarray:
    """A smooth random signal in about [-1, 1]: a sum of ``n`` sines with random phases near ``base_hz``."""
    out = np.zeros_like(t)
    for k in range(n):
        hz = base_hz * rng.uniform(0.7, 1.3) * (k + 1)
        out += np.sin(2 * np.pi * hz * t + rng.uniform(0, 2 * np.pi)) / (k + 1)
    return out / sum(1.0 / (k + 1) for k in range(n))


def animate(model, cfg: ClipConfig) -> dict[str, np.ndarray]:
    """Per-frame hand parameters and geometry of the clip.

    Returns:
        dict with ``global_orient (T, 3)``, ``hand_pose (T, 45)`` (relative to ``hands_mean``), ``betas (T, 10)``,
        ``transl (T, 3)``, ``vertices (T, V, 3)``, ``joints (T, 21, 3)`` (float64 metres) and ``K (3, 3)``.
    """
    import torch

    from handmesh.geometry.rotations import matrix_to_axis_angle
    from handmesh.hand_model.anatomy import HandFrame
    from handmesh.synth.poses import curl_pose, rotation_matrix

    rng = np.random.default_rng([cfg.seed, 2, 0, 0])
    T = cfg.num_frames
    t = np.arange(T) / cfg.fps
    frame = HandFrame.from_model(model)
    f = 0.95 * max(cfg.width, cfg.height)
    K = np.array([[f, 0.0, (cfg.width - 1) / 2], [0.0, f, (cfg.height - 1) / 2], [0.0, 0.0, 1.0]])
    betas = np.clip(rng.normal(0.0, 0.6, 10), -2.0, 2.0)

    # Fingers open and close out of step; the thumb stays moderate so it never passes through the fingers.
    curls = np.stack(
        [0.5 - 0.5 * np.cos(2 * np.pi * rng.uniform(0.25, 0.45) * t + rng.uniform(0, 2 * np.pi)) for _ in range(5)],
        axis=1,
    )
    curls[:, 0] *= 0.55
    k = float(cfg.finger_coupling)
    curls[:, 1:] = (1.0 - k) * curls[:, 1:] + k * curls[:, 1:] @ FINGER_COUPLING.T
    spread = np.clip(1.0 - curls[:, 1:].mean(1), 0.0, 1.0)
    thumb_spread = 0.5 * _smooth(rng, t, 0.2)
    finger_aa = np.stack([curl_pose(frame, curls[i], spread[i], thumb_spread[i]) for i in range(T)])

    # Orientation: palm towards the camera, fingers up, then slow roll, pitch and a yaw that turns the hand
    # partly sideways.
    R0 = frame.canonical_rotation()
    roll = np.deg2rad(35) * _smooth(rng, t, 0.15)
    pitch = np.deg2rad(25) * _smooth(rng, t, 0.2)
    yaw = np.deg2rad(45) * _smooth(rng, t, 0.12)
    R = np.stack(
        [
            rotation_matrix(np.array([0.0, 0.0, roll[i]]))
            @ rotation_matrix(np.array([pitch[i], 0.0, 0.0]))
            @ rotation_matrix(np.array([0.0, yaw[i], 0.0]))
            @ R0
            for i in range(T)
        ]
    )
    global_aa = matrix_to_axis_angle(torch.as_tensor(R)).numpy()
    hands_mean = model.hands_mean.double().cpu().numpy()
    hand_pose = finger_aa.reshape(T, 45) - hands_mean

    def forward(transl: np.ndarray):
        with torch.no_grad():
            return model(
                torch.as_tensor(global_aa, dtype=torch.float32),
                torch.as_tensor(hand_pose, dtype=torch.float32),
                torch.as_tensor(np.repeat(betas[None], T, 0), dtype=torch.float32),
                torch.as_tensor(transl, dtype=torch.float32),
            )

    out0 = forward(np.zeros((T, 3)))
    centre = out0.vertices.double().numpy().mean(1)  # (T, 3) centroid of the untranslated hand
    # The centroid follows a Lissajous path across the frame at a gently varying depth: the hand's height in the
    # image is about half the frame's.
    depth = 0.19 * f / (0.5 * cfg.height) * (1.0 + 0.12 * _smooth(rng, t, 0.1))
    u = K[0, 2] + 0.2 * cfg.width * _smooth(rng, t, 0.1)
    v = K[1, 2] + 0.1 * cfg.height * _smooth(rng, t, 0.13)
    target = np.stack([(u - K[0, 2]) * depth / f, (v - K[1, 2]) * depth / f, depth], axis=1)
    transl = target - centre
    out = forward(transl)
    return {
        "global_orient": global_aa,
        "hand_pose": hand_pose,
        "betas": np.repeat(betas[None], T, 0),
        "transl": transl,
        "vertices": out.vertices.double().numpy(),
        "joints": out.joints.double().numpy(),
        "K": K,
    }


def generate_video(
    out_path: str | os.PathLike, cfg: ClipConfig, *, overwrite: bool = False, progress: bool = True, model=None
) -> tuple[Path, Path, float]:
    """Render the clip to ``out_path`` (``.mp4``) and its sidecar to ``out_path`` with ``.json``.

    Args:
        out_path: the video file to write (``.mp4``).
        cfg: what to make (:class:`ClipConfig`).
        overwrite: replace existing files. Default: False.
        progress: show a tqdm progress bar. Default: True.
        model: a ready hand model of side ``cfg.side`` (its name should be ``cfg.hand_model``). Default: built
            from ``cfg``.

    Returns:
        ``(video path, sidecar path, seconds taken)``.

    Raises:
        ConfigError: impossible settings or a file name not ending in ``.mp4``.
        DataError: the files exist and ``overwrite`` is False.
        BackendUnavailableError: OpenCV cannot write MPEG-4 video here.
    """
    import cv2
    from tqdm import tqdm

    from handmesh.errors import BackendUnavailableError
    from handmesh.hand_model import build_hand_model
    from handmesh.render import SKIN_TONES, Light, Mesh, is_closed, render
    from handmesh.synth.scene import procedural_background

    cfg.validate()
    video = Path(out_path)
    if video.suffix.lower() != ".mp4":
        raise ConfigError(f"video file must end in .mp4, got {video}")
    sidecar = video.with_suffix(".json")
    for p in (video, sidecar):
        if p.exists() and not overwrite:
            raise DataError(f"{p} exists: pass --overwrite to replace it")
    video.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if model is None:
        model = build_hand_model(cfg.hand_model, side=cfg.side, model_dir=cfg.mano_dir)
    elif bool(model.is_right) != (cfg.side == "right"):
        raise ConfigError(
            f"generate_video: the model is a {'right' if model.is_right else 'left'} hand but the "
            f"clip asks for a {cfg.side} one"
        )
    anim = animate(model, cfg)
    K = anim["K"]
    rng = np.random.default_rng([cfg.seed, 2, 0, 1])
    size = (cfg.height, cfg.width)
    if cfg.plain_background:
        background = np.full(size + (3,), 96, np.uint8)
    else:
        background = procedural_background(rng, size)
    skin = np.array(list(SKIN_TONES.values())[int(rng.integers(0, len(SKIN_TONES)))])
    light = Light(
        direction=(rng.uniform(-0.6, 0.6), rng.uniform(-0.8, 0.0), -1.0), ambient=0.4, diffuse=0.65, specular=0.12
    )
    faces = model.faces.cpu().numpy().astype(np.int32)
    cull = is_closed(faces)  # MANO is open at the wrist: draw the inside seen through it

    tmp = video.with_name(f".{video.stem}.tmp.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*FOURCC), float(cfg.fps), (cfg.width, cfg.height))
    if not writer.isOpened():
        raise BackendUnavailableError(f"OpenCV cannot write {FOURCC} video to {tmp} on this machine")
    try:
        for i in tqdm(range(cfg.num_frames), desc="handmesh-synth video", unit="frame", disable=not progress):
            res = render(
                Mesh(anim["vertices"][i], faces, color=skin), K, size, light, background=background, cull_backfaces=cull
            )
            writer.write(cv2.cvtColor(res.rgb, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    os.replace(tmp, video)

    kp2d = project_pinhole(anim["joints"], K)
    frames = []
    for i in range(cfg.num_frames):
        rec = {
            "index": i,
            "time": round(i / cfg.fps, 6),
            "keypoints2d": np.round(kp2d[i], 3).tolist(),
            "keypoints3d": np.round(anim["joints"][i], 6).tolist(),
        }
        if cfg.vertices:
            rec["vertices"] = np.round(anim["vertices"][i], 5).tolist()
        rec["hand_params"] = {
            k: np.round(anim[k][i], 7).tolist() for k in ("global_orient", "hand_pose", "betas", "transl")
        }
        frames.append(rec)
    atomic_write_json(
        sidecar,
        {
            "format": CLIP_FORMAT,
            "format_version": CLIP_FORMAT_VERSION,
            "video": video.name,
            "fps": cfg.fps,
            "width": cfg.width,
            "height": cfg.height,
            "num_frames": cfg.num_frames,
            "handedness": cfg.side,
            "hand_model": cfg.hand_model,
            "hand_model_sha256": model_fingerprint(model),
            "seed": cfg.seed,
            "units": "metres",
            "camera": "OpenCV: x right, y down, z forward",
            "K": K.tolist(),
            "frames": frames,
        },
        separators=(",", ":"),
    )
    return video, sidecar, time.perf_counter() - t0


def load_clip(path: str | os.PathLike, *, model=None) -> ClipAnnotations:
    """Read a clip's sidecar (the ``.json`` beside the video, or the video's path).

    Args:
        path: the sidecar or the video.
        model: the hand model to recompute vertices with when the sidecar has none. Default: built from the
            sidecar's ``hand_model`` and ``handedness``.

    Returns:
        :class:`ClipAnnotations`.

    Raises:
        DataError: the sidecar is malformed, or it has no vertices and ``model`` differs from the one it was made
            with.
    """
    p = Path(path)
    if p.suffix.lower() != ".json":
        p = p.with_suffix(".json")
    if not p.is_file():
        raise MissingFileError(f"clip annotations not found: {p}")
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise DataError(f"{p}: not valid JSON ({e})") from None
    if data.get("format") != CLIP_FORMAT:
        raise DataError(f"{p}: not a handmesh-synth clip sidecar (format {data.get('format')!r})")
    frames = data["frames"]
    params = {
        k: np.array([fr["hand_params"][k] for fr in frames], np.float64)
        for k in ("global_orient", "hand_pose", "betas", "transl")
    }
    if frames and "vertices" in frames[0]:
        vertices = np.array([fr["vertices"] for fr in frames], np.float64)
    else:
        import torch

        if model is None:
            from handmesh.hand_model import build_hand_model

            model = build_hand_model(data["hand_model"], side=data["handedness"])
        made_with = data.get("hand_model_sha256")
        if made_with is not None and made_with != model_fingerprint(model):
            raise DataError(
                f"{p}: the clip was made with another version of the {data['hand_model']!r} hand model "
                "and stores no vertices; regenerate it with handmesh-synth video (its keypoints are "
                "still valid)"
            )
        with torch.no_grad():
            out = model(
                *(
                    torch.as_tensor(params[k], dtype=torch.float32)
                    for k in ("global_orient", "hand_pose", "betas", "transl")
                )
            )
        vertices = out.vertices.double().numpy()
    return ClipAnnotations(
        K=np.array(data["K"], np.float64),
        keypoints2d=np.array([fr["keypoints2d"] for fr in frames], np.float64),
        keypoints3d=np.array([fr["keypoints3d"] for fr in frames], np.float64),
        vertices=vertices,
        handedness=data["handedness"],
        fps=float(data["fps"]),
        size=(int(data["height"]), int(data["width"])),
        hand_model=data["hand_model"],
        **params,
    )
