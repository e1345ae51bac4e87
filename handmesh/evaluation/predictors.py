"""Predictors as evaluation sees them: the :class:`Predictor` protocol, the one over a runtime backend,
:func:`load_predictor` for a checkpoint or an export, and running a predictor over a dataset."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from handmesh.datasets.freihand import FreiHANDDataset
from handmesh.datasets.freihand_format import NUM_JOINTS, NUM_VERTS
from handmesh.errors import ConfigError, DataError, HandmeshError, MissingFileError
from handmesh.evaluation.predictions import Predictions


class Predictor(Protocol):
    """A model as evaluation sees it.

    ``predictor(images, K)`` takes a batch of normalized crops ``images (B, 3, S, S)`` float32 and their intrinsics
    ``K (B, 3, 3)`` (pixels, of the crop) and returns ``(xyz (B, 21, 3), verts (B, V, 3))`` in metres in the camera
    frame (V = 778 for MANO-topology meshes). It moves tensors to its own device. ``input_size`` is S.
    """

    input_size: int

    def __call__(self, images: torch.Tensor, K: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


def evaluate_predictor(
    predictor: Predictor,
    dataset: FreiHANDDataset,
    *,
    batch_size: int = 32,
    num_workers: int = 0,
    progress: bool = True,
) -> Predictions:
    """Run ``predictor`` over every item of ``dataset`` in order and collect its predictions.

    Args:
        predictor: see :class:`Predictor`.
        dataset: an unaugmented dataset with one item per annotation (e.g. the evaluation split, or "val" with
            ``versions=["gs"]``); build it with ``skip_bad=True`` to keep unreadable images as skipped rows.
        batch_size: images per call. Default: 32.
        num_workers: DataLoader worker processes. Default: 0.
        progress: show a progress bar. Default: True.

    Raises:
        ConfigError: the dataset is augmented or has several items per annotation.
        DataError: the predictor returned arrays of the wrong shape.
    """
    from torch.utils.data import DataLoader
    from tqdm import tqdm

    if dataset.augment is not None:
        raise ConfigError("evaluate_predictor: the dataset must not be augmented (augment=None)")
    if len(dataset) != len(dataset.annotation_indices):
        raise ConfigError(
            f"evaluate_predictor: the dataset has {len(dataset)} items for "
            f"{len(dataset.annotation_indices)} annotations; use one image version (versions=['gs'])"
        )
    n = len(dataset)
    xyz = np.zeros((n, NUM_JOINTS, 3))
    verts: np.ndarray | None = None
    skipped: list[int] = []
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    start = 0
    with torch.inference_mode():
        for batch in tqdm(
            _worker_errors_unwrapped(loader), desc="predicting", unit="batch", total=len(loader), disable=not progress
        ):
            b = len(batch["image"])
            out_xyz, out_verts = predictor(batch["image"], batch["K"])
            out_xyz = _to_numpy(out_xyz)
            out_verts = _to_numpy(out_verts)
            if (
                out_xyz.shape != (b, NUM_JOINTS, 3)
                or out_verts.ndim != 3
                or out_verts.shape[0] != b
                or out_verts.shape[2] != 3
            ):
                raise DataError(
                    f"the predictor returned xyz {out_xyz.shape} and verts {out_verts.shape} for "
                    f"{b} images; expected ({b}, 21, 3) and ({b}, {NUM_VERTS}, 3), metres"
                )
            if verts is None:
                verts = np.zeros((n, out_verts.shape[1], 3))
            valid = batch["valid"].numpy()
            out_xyz[~valid] = 0.0  # unreadable images: zero rows, as the official zero predictor writes
            out_verts[~valid] = 0.0
            xyz[start : start + b] = out_xyz
            verts[start : start + b] = out_verts
            skipped.extend(int(start + i) for i in np.flatnonzero(~valid))
            start += b
    return Predictions(xyz=xyz, verts=verts if verts is not None else np.zeros((n, NUM_VERTS, 3)), skipped=skipped)


def _worker_errors_unwrapped(loader: Any) -> Iterator[Any]:
    """Iterate a DataLoader; a user error raised in a worker process (an unreadable image) comes out with its own
    one-line message instead of the worker's traceback that DataLoader folds into it."""
    try:
        yield from loader
    except HandmeshError as e:
        text = str(e)
        if "Original Traceback" not in text:
            raise
        last = text.strip().splitlines()[-1]  # "handmesh.errors.DataError: <the message>"
        raise type(e)(last.split(": ", 1)[1] if ": " in last else last) from None


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    return np.array(x, dtype=np.float64)


class RuntimePredictor:
    """A :class:`Predictor` over a :mod:`handmesh.runtime` backend (ONNX Runtime, TorchScript, Core ML, PyTorch).

    The runtime predicts the root-relative hand and its 2D keypoints in the crop; the translation comes from the
    same least-squares camera solve as :class:`~handmesh.network.NetworkPredictor`
    (:func:`~handmesh.network.predictor.place_in_camera`).
    """

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.input_size = int(runtime.input_size)

    def __call__(self, images: torch.Tensor, K: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from handmesh.network.predictor import place_in_camera

        out = self.runtime(images.detach().to("cpu", torch.float32).numpy())
        return place_in_camera(
            torch.as_tensor(out.joints),
            torch.as_tensor(out.vertices),
            torch.as_tensor(out.joints2d),
            K,
            self.input_size,
        )


def load_predictor(checkpoint: str | os.PathLike, backend: str = "torch", device: str = "auto") -> Predictor:
    """A :class:`Predictor` for a trained checkpoint or an export of one.

    The network predicts a root-relative hand and its 2D keypoints in the crop; the translation that makes those
    keypoints project with the crop's K is solved by least squares, giving camera-frame keypoints and vertices.

    Args:
        checkpoint: a checkpoint written by ``handmesh-train`` (EMA weights when it has them), or an artefact
            written by ``handmesh-export`` (``.onnx``, ``.ts``, ``.mlpackage``).
        backend: ``"torch"`` (the network in PyTorch, as trained), or any :func:`handmesh.runtime.load_runtime`
            backend: ``"auto"``, ``"onnxruntime"``, ``"torchscript"``, ``"coreml"``. Default: ``"torch"``.
        device: "auto", "cpu", "cuda", "mps". Default: "auto".

    Raises:
        MissingFileError: no such checkpoint (or, for a MANO network, no MANO files).
        CheckpointError: the file is corrupt or not a handmesh checkpoint or export.
        BackendUnavailableError: a backend or device this machine lacks.
        ConfigError: an unknown backend, or one that cannot run this file.
    """
    if not Path(checkpoint).exists():
        raise MissingFileError(f"checkpoint {checkpoint} does not exist")
    from handmesh.artefact.formats import detect_source

    if backend == "torch" and detect_source(checkpoint) == "checkpoint":
        from handmesh.network.predictor import NetworkPredictor

        return NetworkPredictor.from_checkpoint(checkpoint, device)
    from handmesh.export.cache import export_for_runtime
    from handmesh.runtime import load_runtime

    return RuntimePredictor(load_runtime(checkpoint, backend=backend, device=device, exporter=export_for_runtime))
