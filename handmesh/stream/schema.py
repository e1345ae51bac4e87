"""The stream's messages: JSON text for what every client reads, one binary message for the meshes.

Version 1. Every text message is a JSON object with ``"type"`` and ``"version"``; the file ``schema.json`` beside this
module is its JSON Schema, and docs/streaming.md describes it for people.

Server to client, in this order on a connection:

* ``hello``: ``{"type": "hello", "version": 1, "server": "handmesh <version>", "meshes": true}``, once.
* ``faces``: ``{"type": "faces", "version": 1, "side": "right" | "left", "faces": [[i, j, k], ...]}``, once per side
  per connection, before the first mesh of that side (a left hand's triangles are wound the other way).
* ``frame``: one per processed frame::

      {"type": "frame", "version": 1, "frame": 12, "timestamp_ms": 400, "sent_ms": 123456.789,
       "image_size": [640, 480], "K": [[fx, 0, cx], [0, fy, cy], [0, 0, 1]], "dropped": 0,
       "hands": [{"track_id": 0, "side": "right", "score": 0.97, "refined": true, "fit_residual_px": 1.4,
                  "keypoints3d": [[x, y, z], ... 21], "keypoints2d": [[u, v], ... 21]}],
       "mesh": {"vertices": 778}}

  Keypoints in FreiHAND/OpenPose order; 3D in metres in the camera frame (x right, y down, z forward), 2D in pixels.
  ``fit_residual_px`` is null when the hand was not fitted to landmarks. ``dropped`` counts the frames this client
  missed so far because it read slower than the pipeline produced (it always gets the newest). ``sent_ms`` is the
  server's monotonic clock when the frame was published (for latency on the same machine). ``mesh`` is null when
  the client asked for no meshes or there are no hands; otherwise the next message is binary:

* mesh (binary), little-endian: ``b"HMSH"``, uint16 version, uint16 hand count ``N``, uint32 frame index, uint32
  vertex count ``V``, then ``N * V * 3`` float32: each hand's vertices (metres, camera frame), in the order of
  ``hands``. 16 bytes of header, ``12 V`` bytes per hand.
* ``error``: ``{"type": "error", "version": 1, "message": "..."}`` after a malformed client message.

Client to server (optional): ``{"type": "subscribe", "meshes": false}`` stops (or with true restarts) the binary
mesh messages. A token, when the server has one, goes in the URL: ``ws://host:port/?token=...``.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from handmesh._version import __version__

__all__ = [
    "MESH_HEADER",
    "MESH_MAGIC",
    "SCHEMA_VERSION",
    "FrameEvent",
    "MeshMessage",
    "decode_meshes",
    "encode_meshes",
    "faces_message",
    "event_meshes",
    "frame_message",
    "frame_message_text",
    "hello_message",
    "error_message",
]

SCHEMA_VERSION = 1
MESH_MAGIC = b"HMSH"
MESH_HEADER = struct.Struct("<4sHHII")  # magic, version, hand count, frame index, vertices per hand


@dataclass
class FrameEvent:
    """One processed frame, as the live loop hands it to the stream and the browser view.

    Attributes:
        index: the frame's number in the run, from 0.
        timestamp_ms: the frame's time (capture clock), or None.
        image: ``(H, W, 3)`` uint8 RGB, the frame the hands were found in.
        K: ``(3, 3)`` intrinsics.
        hands: the :class:`~handmesh.Hand` results.
        fps: the pipeline's frame rate so far.
        latency_ms: from handing the frame to the estimator to its result.
        sent: ``time.perf_counter()`` when it was published (set by the publisher).
    """

    index: int
    timestamp_ms: float | None
    image: np.ndarray
    K: np.ndarray
    hands: list[Any]
    fps: float = 0.0
    latency_ms: float = 0.0
    sent: float = field(default=0.0)
    encoded: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)  # the server's per-event cache


def _floats(a: Any, digits: int) -> list:
    return np.round(np.asarray(a, dtype=np.float64), digits).tolist()


def hello_message(meshes: bool) -> str:
    return json.dumps(
        {"type": "hello", "version": SCHEMA_VERSION, "server": f"handmesh {__version__}", "meshes": bool(meshes)}
    )


def error_message(message: str) -> str:
    return json.dumps({"type": "error", "version": SCHEMA_VERSION, "message": message})


def faces_message(side: str, faces: np.ndarray) -> str:
    """The triangles of one side's mesh (int32 vertex indices, wound outward)."""
    return json.dumps(
        {"type": "faces", "version": SCHEMA_VERSION, "side": side, "faces": np.asarray(faces, dtype=np.int64).tolist()}
    )


def frame_message(event: FrameEvent, *, mesh: bool, dropped: int = 0) -> dict[str, Any]:
    """The ``frame`` message of ``event`` as a dict (``json.dumps`` it); ``mesh`` says whether a binary mesh
    message follows."""
    hands = []
    for h in event.hands:
        residual = float(h.fit_residual_px)
        hands.append(
            {
                "track_id": None if h.track_id is None else int(h.track_id),
                "side": str(h.handedness),
                "score": round(float(h.score), 4),
                "refined": bool(h.refined),
                "fit_residual_px": round(residual, 3) if np.isfinite(residual) else None,
                "keypoints3d": _floats(h.joints, 5),
                "keypoints2d": _floats(h.joints2d, 2),
            }
        )
    height, width = event.image.shape[:2]
    with_mesh = mesh and bool(event.hands)
    return {
        "type": "frame",
        "version": SCHEMA_VERSION,
        "frame": int(event.index),
        "timestamp_ms": None if event.timestamp_ms is None else float(event.timestamp_ms),
        "sent_ms": round(event.sent * 1e3, 3),
        "image_size": [int(width), int(height)],
        "K": _floats(event.K, 4),
        "dropped": int(dropped),
        "hands": hands,
        "mesh": {"vertices": int(event.hands[0].vertices.shape[0])} if with_mesh else None,
    }


def frame_message_text(event: FrameEvent, *, mesh: bool, dropped: int = 0) -> str:
    """The ``frame`` message of ``event`` as JSON text; what does not depend on the client is encoded once per event
    (cached on it), so each further client costs a string join."""
    key = ("frame", mesh)
    if key not in event.encoded:
        text = json.dumps(frame_message(event, mesh=mesh, dropped=0))
        head, _, tail = text.partition('"dropped": 0')
        event.encoded[key] = (head, tail)
    head, tail = event.encoded[key]
    return f'{head}"dropped": {int(dropped)}{tail}'


def event_meshes(event: FrameEvent) -> bytes:
    """The binary mesh message of ``event`` (encoded once per event)."""
    if "meshes" not in event.encoded:
        event.encoded["meshes"] = encode_meshes(event.index, [h.vertices for h in event.hands])
    return event.encoded["meshes"]


def encode_meshes(index: int, vertices: list[np.ndarray]) -> bytes:
    """The binary mesh message: the header, then each hand's ``(V, 3)`` vertices as little-endian float32."""
    count = int(vertices[0].shape[0]) if vertices else 0
    body = b"".join(np.ascontiguousarray(v, dtype="<f4").tobytes() for v in vertices)
    return MESH_HEADER.pack(MESH_MAGIC, SCHEMA_VERSION, len(vertices), int(index), count) + body


@dataclass
class MeshMessage:
    """A decoded binary mesh message: the frame it belongs to and ``(N, V, 3)`` float32 vertices."""

    frame: int
    vertices: np.ndarray


def decode_meshes(data: bytes) -> MeshMessage:
    """Read a binary mesh message (what a Python client does; see the module docstring for the layout).

    Raises:
        ValueError: not a mesh message of this version, or truncated.
    """
    if len(data) < MESH_HEADER.size:
        raise ValueError(f"mesh message of {len(data)} bytes: shorter than its {MESH_HEADER.size}-byte header")
    magic, version, hands, index, count = MESH_HEADER.unpack_from(data)
    if magic != MESH_MAGIC or version != SCHEMA_VERSION:
        raise ValueError(f"not a version-{SCHEMA_VERSION} mesh message (magic {magic!r}, version {version})")
    expected = MESH_HEADER.size + hands * count * 12
    if len(data) != expected:
        raise ValueError(f"mesh message of {len(data)} bytes, expected {expected} for {hands} hand(s) of {count}")
    vertices = np.frombuffer(data, dtype="<f4", offset=MESH_HEADER.size).reshape(hands, count, 3)
    return MeshMessage(frame=int(index), vertices=vertices.astype(np.float32))
