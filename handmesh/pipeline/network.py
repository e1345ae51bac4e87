"""The network stage of the pipeline: crops in, right-hand predictions in the crops' frames out.

The estimator talks to the network only through :class:`NetworkStage`, so anything that predicts hands in crops
can stand in for it: :class:`RuntimeStage` wraps a :func:`handmesh.runtime.load_runtime` runtime (the normal case);
tests inject stages that return known parameters to check the geometry around the network exactly.

A prediction (:class:`Prediction`) has the meaning of :class:`handmesh.network.HandMeshOutput`, as numpy arrays:
everything is in the frame of the camera that sees the crop, which for a mirrored crop (a left hand shown as a right
one) is the mirrored world; the estimator un-mirrors it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from handmesh.crop import HandCrop


@runtime_checkable
class Prediction(Protocol):
    """What a network stage returns for B crops (numpy float arrays; the runtime's ``RuntimeOutput`` is one).

    Attributes:
        rotmats: ``(B, 16, 3, 3)`` absolute joint rotations, global orientation first, MANO joint order.
        betas: ``(B, 10)`` shape coefficients.
        vertices: ``(B, V, 3)`` root-relative mesh (wrist keypoint at the origin), metres, crop camera axes.
        joints: ``(B, 21, 3)`` root-relative keypoints, metres.
        joints2d: ``(B, 21, 2)`` keypoints in normalized crop coordinates ``(uv_px - S/2) / (S/2)``.
    """

    rotmats: Any
    betas: Any
    vertices: Any
    joints: Any
    joints2d: Any


@runtime_checkable
class NetworkStage(Protocol):
    """Anything that predicts right hands in square crops.

    Attributes:
        input_size: crop side S in pixels.
        hand_model: name of the hand model the predictions are made with (``"open"`` or ``"mano"``).
    """

    input_size: int
    hand_model: str

    def predict(self, images: np.ndarray, crops: Sequence[HandCrop]) -> Prediction:
        """Predict hands.

        Args:
            images: ``(B, S, S, 3)`` uint8 RGB crops (left hands already mirrored).
            crops: the B crops' geometry (the network itself ignores it; injected stages may use it).

        Returns:
            A :class:`Prediction` for the B crops, in order.
        """
        ...


class RuntimeStage:
    """A :class:`NetworkStage` around a runtime from :func:`handmesh.runtime.load_runtime`.

    Args:
        runtime: the runtime (``input_size``, ``hand_model``, ``normalize(crops_uint8)``, ``__call__(crops)``).
    """

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.input_size = int(runtime.input_size)
        self.hand_model = str(runtime.hand_model)

    @property
    def backend(self) -> str:
        """The runtime's backend name (``"onnxruntime"``, ``"torch"``, ...)."""
        return str(getattr(self.runtime, "backend", "unknown"))

    def describe(self) -> str:
        """One line about the runtime (its ``describe()`` when it has one)."""
        describe = getattr(self.runtime, "describe", None)
        return str(describe()) if callable(describe) else self.backend

    def predict(self, images: np.ndarray, crops: Sequence[HandCrop]) -> Prediction:
        """Normalize the crops and run the runtime (see :meth:`NetworkStage.predict`)."""
        return self.runtime(self.runtime.normalize(images))
