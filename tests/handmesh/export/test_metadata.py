"""The metadata document every artefact stores: faces survive the compact encoding; damaged, foreign or newer
documents are refused with the artefact and the field named."""

from __future__ import annotations

import json

import numpy as np
import pytest

from handmesh.artefact.metadata import ArtefactMetadata, decode_faces, encode_faces
from handmesh.errors import CheckpointError


def _meta(**over) -> ArtefactMetadata:
    rng = np.random.default_rng(0)
    fields = dict(
        artefact="onnx",
        variant="fastvit_t8",
        input_size=224,
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        hand_model="open",
        faces=rng.integers(0, 778, (1538, 3)).astype(np.int32),
        num_vertices=778,
    )
    fields.update(over)
    return ArtefactMetadata(**fields)


def test_faces_encoding_round_trips_and_is_compact() -> None:
    faces = np.random.default_rng(1).integers(0, 778, (1538, 3))
    enc = encode_faces(faces)
    assert enc["shape"] == [1538, 3] and enc["dtype"] == "<i4"
    assert len(enc["zlib_base64"]) < faces.size * 4  # smaller than the raw int32 bytes, as text
    back = decode_faces(json.loads(json.dumps(enc)))
    assert back.dtype == np.int32
    np.testing.assert_array_equal(back, faces)


def test_document_round_trips() -> None:
    meta = _meta(batch=2, precision="fp16", source={"checkpoint": "best.pt", "step": 7})
    back = ArtefactMetadata.from_json(meta.to_json(), "x.onnx")
    assert back.to_dict() == meta.to_dict()
    assert back.input_shape == [2, 3, 224, 224]
    assert back.output_shapes["joints2d"] == [2, 21, 2]
    assert _meta().input_shape == ["batch", 3, 224, 224]


@pytest.mark.parametrize(
    "edit,match",
    [
        (lambda d: d.update(format="something-else"), r"x\.onnx: metadata format 'something-else'"),
        (lambda d: d.update(format_version=99), r"version 99.*update handmesh"),
        (lambda d: d.pop("faces"), r"x\.onnx: its handmesh metadata lacks faces"),
        (lambda d: d.update(mean=[0.5, 0.5]), "mean: expected 3 numbers"),
        (lambda d: d["faces"].update(zlib_base64="!!!!"), "faces entry is malformed"),
        (lambda d: d.update(num_vertices=10), r"faces index vertices outside 0\.\.9"),
    ],
)
def test_bad_documents_are_named(edit, match: str) -> None:
    doc = _meta().to_dict()
    edit(doc)
    with pytest.raises(CheckpointError, match=match):
        ArtefactMetadata.from_json(json.dumps(doc), "x.onnx")


def test_missing_or_unparsable_document() -> None:
    with pytest.raises(CheckpointError, match=r"model\.onnx has no handmesh metadata"):
        ArtefactMetadata.from_json(None, "model.onnx")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        ArtefactMetadata.from_json("{oops", "model.onnx")
