"""Hand datasets: FreiHAND (official release or a synthetic set in its layout), its annotations and augmentation.

``from handmesh.datasets import FreiHANDDataset`` imports torch and OpenCV; importing this package does no other work.

Where things are:
    freihand.py         FreiHANDDataset: images decoded, cropped and augmented consistently with the 3D targets
    freihand_format.py  the folder layout: file names, official counts, image ids, a layout check and a writer
    annotations.py      the annotations as NumPy arrays, validated once and cached
    json_arrays.py      a fast, validating reader for JSON files of one regular nested list of numbers
    augment.py          one affine crop per sample (image and targets together), colour jitter, occluders
"""

from handmesh.datasets.annotations import FreiHANDAnnotations, load_annotations
from handmesh.datasets.augment import AugmentParams, CropTransform, crop_transform
from handmesh.datasets.freihand import (
    FreiHANDDataset,
    HandSample,
    build_freihand_dataset,
    validation_indices,
)
from handmesh.datasets.freihand_format import OFFICIAL_COUNTS, VERSIONS, check_layout, write_freihand_split

__all__ = [
    "AugmentParams",
    "CropTransform",
    "FreiHANDAnnotations",
    "FreiHANDDataset",
    "HandSample",
    "OFFICIAL_COUNTS",
    "VERSIONS",
    "build_freihand_dataset",
    "check_layout",
    "crop_transform",
    "load_annotations",
    "validation_indices",
    "write_freihand_split",
]
