"""The network's outputs are declared once (handmesh/network/outputs.py); every record of them follows that table."""

from __future__ import annotations

import dataclasses
import typing

from handmesh.artefact.metadata import ArtefactMetadata
from handmesh.network.model import HandMeshOutput
from handmesh.network.outputs import NETWORK_OUTPUTS, OUTPUT_NAMES, output_shapes
from handmesh.pipeline.network import Prediction
from handmesh.runtime.base import RuntimeOutput


def test_records_carry_the_declared_outputs_in_order() -> None:
    # The torch record adds one training-only field after them (the spatial head's keypoints, which no export has).
    assert [f.name for f in dataclasses.fields(HandMeshOutput)] == [*OUTPUT_NAMES, "head_keypoints2d", "head_heatmaps"]
    assert [f.name for f in dataclasses.fields(RuntimeOutput)] == list(OUTPUT_NAMES)
    # The pipeline reads all of them but the crop camera (it solves the translation in the full image instead).
    assert [n for n in typing.get_type_hints(Prediction)] == [n for n in OUTPUT_NAMES if n != "cam"]


def test_shapes_follow_the_declaration() -> None:
    shapes = output_shapes(778, 4)
    assert shapes["vertices"] == [4, 778, 3] and shapes["rotmats"] == [4, 16, 3, 3]
    assert output_shapes(778)["joints2d"] == ["batch", 21, 2]
    assert [len(s) for s in shapes.values()] == [len(o.shape) for o in NETWORK_OUTPUTS]
    # The artefacts take their names and shapes from the declaration instead of declaring them again.
    from handmesh.artefact import metadata
    from handmesh.network import outputs

    assert metadata.OUTPUT_NAMES is outputs.OUTPUT_NAMES and metadata.output_shapes is outputs.output_shapes
    assert [f.name for f in dataclasses.fields(ArtefactMetadata)].count("faces") == 1
