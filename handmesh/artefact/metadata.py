"""What an exported artefact says about itself: one JSON document stored inside every ONNX, TorchScript and Core ML
export, so that a runtime needs nothing but the artefact.

Where it is stored:

* ONNX: ``metadata_props`` key ``"handmesh"`` (``onnx.load(p).metadata_props``; ONNX Runtime:
  ``session.get_modelmeta().custom_metadata_map["handmesh"]``);
* TorchScript: the extra file ``"handmesh.json"`` (``torch.jit.load(p, _extra_files={"handmesh.json": ""})``);
* Core ML: ``user_defined_metadata["handmesh"]`` of the model description.

The document (format ``"handmesh-artefact"``, version 1)::

    format, format_version      "handmesh-artefact", 1
    artefact                    "onnx" | "torchscript" | "coreml"
    variant, input_size         e.g. "fastvit_t8", 224
    mean, std                   RGB normalization of 0-1 pixels: x = (rgb / 255 - mean) / std
    hand_model                  "open" | "mano"; hand_model_sha256: fingerprint of its arrays
    side                        "right" (left hands are mirrored by the crop)
    num_vertices                V
    faces                       {"dtype": "<i4", "shape": [F, 3], "zlib_base64": ...}: the right hand's triangles,
                                little-endian int32, zlib-compressed, base64 text (about 8 kB for MANO's 1538)
    batch                       null (any batch size) or N (the graph takes exactly N crops)
    precision                   "fp32" | "fp16" (inputs and outputs are float32 either way)
    inputs                      [{"name": "image", "shape": ["batch", 3, S, S], "dtype": "float32"}]
    outputs                     [{"name": ..., "shape": [...], "dtype": "float32"}, ...] in OUTPUT_NAMES order
    source                      {"checkpoint": file name, "sha256": ..., "step": ..., "epoch": ...}
    versions                    {"handmesh": ..., "torch": ..., <exporter>: ...}

The graph's input is one normalized crop batch ``image (B, 3, S, S)``; its outputs are those of
the network's, declared once in :mod:`handmesh.network.outputs`, in that order (metres, root-relative).
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from handmesh.errors import CheckpointError
from handmesh.network.outputs import OUTPUT_NAMES, output_shapes

__all__ = [
    "ARTEFACT_FORMAT",
    "ARTEFACT_FORMAT_VERSION",
    "INPUT_NAME",
    "METADATA_KEY",
    "OUTPUT_NAMES",
    "TORCHSCRIPT_EXTRA_FILE",
    "ArtefactMetadata",
    "decode_faces",
    "encode_faces",
    "output_shapes",
]

ARTEFACT_FORMAT = "handmesh-artefact"
ARTEFACT_FORMAT_VERSION = 1
METADATA_KEY = "handmesh"
TORCHSCRIPT_EXTRA_FILE = "handmesh.json"
INPUT_NAME = "image"
BATCH_DIM = "batch"


def encode_faces(faces: np.ndarray) -> dict[str, Any]:
    """``(F, 3)`` integer triangles -> the JSON-friendly form stored in the metadata (see the module docstring)."""
    arr = np.ascontiguousarray(np.asarray(faces), dtype="<i4")
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"faces: expected shape (F, 3), got {arr.shape}")
    return {
        "dtype": "<i4",
        "shape": [int(arr.shape[0]), 3],
        "zlib_base64": base64.b64encode(zlib.compress(arr.tobytes(), 9)).decode("ascii"),
    }


def decode_faces(obj: Any, where: str = "artefact") -> np.ndarray:
    """The inverse of :func:`encode_faces`: ``(F, 3)`` int32.

    Raises:
        CheckpointError: the entry is malformed (names ``where``).
    """
    try:
        shape = tuple(int(v) for v in obj["shape"])
        if obj.get("dtype") != "<i4" or len(shape) != 2 or shape[1] != 3:
            raise ValueError(f"dtype {obj.get('dtype')!r}, shape {shape}")
        raw = zlib.decompress(base64.b64decode(obj["zlib_base64"]))
        faces = np.frombuffer(raw, dtype="<i4").reshape(shape).astype(np.int32)
    except (KeyError, TypeError, ValueError, zlib.error) as e:
        raise CheckpointError(
            f"{where}: the metadata's faces entry is malformed ({type(e).__name__}: {e}); "
            "expected {dtype: '<i4', shape: [F, 3], zlib_base64: ...}"
        ) from e
    return faces


@dataclass
class ArtefactMetadata:
    """The metadata of one exported artefact (see the module docstring for the stored form).

    Attributes:
        artefact: ``"onnx"``, ``"torchscript"`` or ``"coreml"``.
        variant: FastViT variant, e.g. ``"fastvit_t8"``.
        input_size: crop side S in pixels.
        mean, std: RGB normalization applied to 0-1 pixels.
        hand_model: ``"open"`` or ``"mano"``.
        faces: ``(F, 3)`` int32 triangles of the right hand mesh.
        num_vertices: V.
        batch: the fixed batch size of the graph, or None for any.
        precision: ``"fp32"`` or ``"fp16"`` (the compute precision of the encoder; inputs and outputs are float32).
        hand_model_sha256: fingerprint of the hand model's arrays ("" when unknown).
        side: ``"right"``.
        source: where the weights came from (checkpoint file name, its sha256, training step and epoch).
        versions: library versions at export time.
    """

    artefact: str
    variant: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    hand_model: str
    faces: np.ndarray
    num_vertices: int
    batch: int | None = None
    precision: str = "fp32"
    hand_model_sha256: str = ""
    side: str = "right"
    source: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def input_shape(self) -> list[int | str]:
        """``[batch, 3, S, S]`` (``"batch"`` when dynamic)."""
        return [BATCH_DIM if self.batch is None else int(self.batch), 3, int(self.input_size), int(self.input_size)]

    @property
    def output_shapes(self) -> dict[str, list[int | str]]:
        """Output name -> shape, in graph order."""
        return output_shapes(self.num_vertices, self.batch)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (plain data)."""
        return {
            "format": ARTEFACT_FORMAT,
            "format_version": ARTEFACT_FORMAT_VERSION,
            "artefact": self.artefact,
            "variant": self.variant,
            "input_size": int(self.input_size),
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
            "hand_model": self.hand_model,
            "hand_model_sha256": self.hand_model_sha256,
            "side": self.side,
            "num_vertices": int(self.num_vertices),
            "faces": encode_faces(self.faces),
            "batch": None if self.batch is None else int(self.batch),
            "precision": self.precision,
            "inputs": [{"name": INPUT_NAME, "shape": self.input_shape, "dtype": "float32"}],
            "outputs": [{"name": k, "shape": v, "dtype": "float32"} for k, v in self.output_shapes.items()],
            "source": dict(self.source),
            "versions": dict(self.versions),
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as compact JSON text."""
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=False)

    @classmethod
    def from_json(cls, text: str | bytes | None, where: str = "artefact") -> ArtefactMetadata:
        """Parse and validate the stored document.

        Args:
            text: the stored JSON (None when the artefact has none).
            where: the artefact's path or name, for messages.

        Raises:
            CheckpointError: no metadata (not a handmesh export), another format or a newer version, or a field
                missing or malformed (the message names the artefact and the field).
        """
        if text is None or (isinstance(text, (str, bytes)) and not text):
            raise CheckpointError(
                f"{where} has no handmesh metadata (key {METADATA_KEY!r}): it was not exported by handmesh-export, "
                "so its input size, normalization and mesh faces are unknown. Export the checkpoint with "
                "`handmesh-export --checkpoint CKPT --format onnx|torchscript|coreml`"
            )
        try:
            doc = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise CheckpointError(f"{where}: its handmesh metadata is not valid JSON ({e})") from e
        if not isinstance(doc, dict) or doc.get("format") != ARTEFACT_FORMAT:
            got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
            raise CheckpointError(f"{where}: metadata format {got!r}, expected {ARTEFACT_FORMAT!r}")
        version = doc.get("format_version")
        if not isinstance(version, int) or version > ARTEFACT_FORMAT_VERSION:
            raise CheckpointError(
                f"{where}: metadata format version {version!r}; this handmesh reads versions up to "
                f"{ARTEFACT_FORMAT_VERSION} (update handmesh)"
            )
        required = ("artefact", "variant", "input_size", "mean", "std", "hand_model", "num_vertices", "faces")
        missing = [k for k in required if k not in doc]
        if missing:
            raise CheckpointError(
                f"{where}: its handmesh metadata lacks {', '.join(missing)} (a damaged or "
                "hand-edited export; export the checkpoint again)"
            )
        try:
            meta = cls(
                artefact=str(doc["artefact"]),
                variant=str(doc["variant"]),
                input_size=int(doc["input_size"]),
                mean=_triple(doc["mean"], "mean"),
                std=_triple(doc["std"], "std"),
                hand_model=str(doc["hand_model"]),
                faces=decode_faces(doc["faces"], where),
                num_vertices=int(doc["num_vertices"]),
                batch=None if doc.get("batch") is None else int(doc["batch"]),
                precision=str(doc.get("precision", "fp32")),
                hand_model_sha256=str(doc.get("hand_model_sha256", "")),
                side=str(doc.get("side", "right")),
                source=dict(doc.get("source") or {}),
                versions={str(k): str(v) for k, v in (doc.get("versions") or {}).items()},
            )
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{where}: its handmesh metadata has a malformed field ({e})") from e
        if meta.input_size <= 0 or meta.num_vertices <= 0:
            raise CheckpointError(
                f"{where}: metadata input_size {meta.input_size} / num_vertices "
                f"{meta.num_vertices}: expected positive numbers"
            )
        if meta.faces.size and (meta.faces.min() < 0 or meta.faces.max() >= meta.num_vertices):
            raise CheckpointError(f"{where}: metadata faces index vertices outside 0..{meta.num_vertices - 1}")
        return meta

    def same_model_as(self, other: ArtefactMetadata) -> bool:
        """Whether two artefacts describe the same network interface (variant, size, normalization, hand model)."""
        return all(
            getattr(self, f.name) == getattr(other, f.name)
            for f in fields(self)
            if f.name in ("variant", "input_size", "mean", "std", "hand_model", "num_vertices")
        ) and np.array_equal(self.faces, other.faces)


def _triple(v: Any, name: str) -> tuple[float, float, float]:
    t = tuple(float(x) for x in v)
    if len(t) != 3:
        raise ValueError(f"{name}: expected 3 numbers (RGB), got {len(t)}")
    return t  # type: ignore[return-value]
