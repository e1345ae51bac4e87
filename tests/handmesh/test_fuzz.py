"""Generated inputs against the functions the command-line tools and the library call: frames, intrinsics and
timestamps (the estimator), prediction files (handmesh-eval), FreiHAND-style JSON arrays, MANO pickles
(handmesh-mano) and config overrides (handmesh-train). Property: every input either works or raises one of the
project's own errors with a message; never another exception, a hang, NaN or infinity where a result must be
finite.

The default suite runs a fixed, derandomized set (about 2,300 inputs, well under a minute; a new find cannot fail
CI by chance). ``--runslow`` runs a randomized, ten times larger profile; a failure it finds belongs here as an
explicit ``@example``.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from handmesh.errors import HandmeshError

RANDOMIZED = os.environ.get("HANDMESH_RUN_SLOW") == "1"
settings.register_profile(
    "handmesh",
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "handmesh-slow",
    derandomize=False,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _runs(n: int) -> settings:
    """``n`` inputs in the default suite, ten times as many (randomized) with ``HANDMESH_RUN_SLOW=1``."""
    profile = settings.get_profile("handmesh-slow" if RANDOMIZED else "handmesh")
    return settings(profile, max_examples=n * 10 if RANDOMIZED else n)


NUMBERS = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**70), 2**70)
JSON_LEAVES = NUMBERS | st.text(max_size=3) | st.booleans() | st.none()


def _nested(leaves: st.SearchStrategy, depth: int = 4) -> st.SearchStrategy:
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=5), max_leaves=40)


# ------------------------------------------------------------------------------------------------------ frames
FRAME_DTYPES = st.sampled_from([np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64, np.bool_])


@st.composite
def frames(draw: st.DrawFn) -> np.ndarray:
    dtype = draw(FRAME_DTYPES)
    ndim = draw(st.integers(0, 4))
    shape = tuple(draw(st.lists(st.integers(0, 12), min_size=ndim, max_size=ndim)))
    if ndim == 3 and draw(st.booleans()):
        shape = shape[:2] + (draw(st.sampled_from([1, 2, 3, 4, 5])),)
    elements = None
    if np.issubdtype(dtype, np.floating):
        elements = st.floats(-2.0, 3.0, width=32) | st.sampled_from([np.nan, np.inf, -np.inf, 0.5])
    arr = draw(hnp.arrays(dtype, shape, elements=elements))
    if arr.ndim >= 2 and draw(st.booleans()):
        arr = arr[::2, ::-1]  # strided, negative strides
    return arr


@_runs(600)
@given(frames())
def test_frames_are_taken_or_refused(frame: np.ndarray) -> None:
    from handmesh.pipeline.estimator import check_frame

    try:
        out = check_frame(frame)
    except HandmeshError as e:
        assert str(e)
        return
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3 and out.flags.c_contiguous
    assert out.shape[0] >= 1 and out.shape[1] >= 1


# -------------------------------------------------------------------------------------------------- intrinsics
@st.composite
def intrinsics(draw: st.DrawFn) -> object:
    kind = draw(st.integers(0, 5))
    if kind == 0:  # plausible, perturbed
        f = draw(st.floats(-10.0, 5000.0))
        k = [
            [f, draw(st.floats(-100, 100)), draw(st.floats(-1e4, 1e4))],
            [draw(st.floats(-1, 1)), draw(st.floats(-10.0, 5000.0)), draw(st.floats(-1e4, 1e4))],
            [draw(st.floats(-1, 1)), draw(st.floats(-1, 1)), draw(st.floats(0, 2))],
        ]
        return np.array(k).T if draw(st.booleans()) else k
    if kind == 1:
        return draw(hnp.arrays(np.float64, (3, 3), elements=st.floats(allow_nan=True, allow_infinity=True)))
    if kind == 2:
        return draw(hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=4)))
    if kind == 3:
        return draw(_nested(JSON_LEAVES))
    if kind == 4:
        return draw(st.text(max_size=9))
    return draw(st.none() | NUMBERS)


@_runs(500)
@given(intrinsics())
def test_intrinsics_are_taken_or_refused(K: object) -> None:
    from handmesh.pipeline.estimator import check_intrinsics

    try:
        k = check_intrinsics(K, 64, 48)
    except HandmeshError as e:
        assert str(e)
        return
    assert k.shape == (3, 3) and np.all(np.isfinite(k)) and k[0, 0] > 0 and k[1, 1] > 0
    assert abs(k[2, 2] - 1.0) < 1e-5 and abs(k[1, 0]) + abs(k[2, 0]) + abs(k[2, 1]) < 1e-3


# ---------------------------------------------------------------------------------------- the whole estimator
class _StubNetwork:
    """A network stage that answers every crop with the model's mean hand (no weights needed)."""

    input_size = 32
    hand_model = "open"

    def __init__(self) -> None:
        import torch

        from handmesh.hand_model import build_hand_model

        model = build_hand_model("open", "right")
        with torch.no_grad():
            out = model(torch.zeros(1, 3), torch.zeros(1, 45), torch.zeros(1, 10))
        root = out.joints[0, :1]
        self.joints = (out.joints[0] - root).numpy()
        self.vertices = (out.vertices[0] - root).numpy()

    def predict(self, images: np.ndarray, crops: list) -> SimpleNamespace:
        B = len(images)
        uv = self.joints[:, :2] / max(np.ptp(self.joints[:, :2]), 1e-6)
        return SimpleNamespace(
            rotmats=np.tile(np.eye(3), (B, 16, 1, 1)),
            betas=np.zeros((B, 10)),
            vertices=np.tile(self.vertices, (B, 1, 1)),
            joints=np.tile(self.joints, (B, 1, 1)),
            joints2d=np.tile(uv, (B, 1, 1)),
        )


@pytest.fixture(scope="module")
def estimators() -> dict:
    import handmesh

    stage = _StubNetwork()
    made = {mode: handmesh.load(network=stage, detector="none", mode=mode) for mode in ("image", "video")}
    yield made
    for est in made.values():
        est.close()


@_runs(250)
@given(frame=frames(), K=intrinsics(), timestamp=st.none() | NUMBERS | st.text(max_size=3), video=st.booleans())
@example(frame=np.full((48, 64, 3), 100, np.uint8), K=None, timestamp=float("nan"), video=True)
def test_estimator_returns_finite_hands_or_a_clear_error(
    estimators: dict, frame: np.ndarray, K: object, timestamp: object, video: bool
) -> None:
    est = estimators["video" if video else "image"]
    try:
        hands = est(frame, K, timestamp_ms=timestamp)
    except HandmeshError as e:
        assert str(e)
        return
    for h in hands:
        for field in (h.vertices, h.joints, h.joints2d, h.translation, h.rotmats, h.betas):
            assert np.all(np.isfinite(field))


# ---------------------------------------------------------------------------------------------- prediction files
@_runs(300)
@given(content=_nested(JSON_LEAVES) | st.binary(max_size=64), n=st.integers(0, 3))
@example(content=[[[[1e300] * 3] * 21], [[[0.0] * 3] * 4]], n=1)
@example(content=[[[[float("nan")] * 3] * 21], [[[0.0] * 3] * 4]], n=1)
def test_prediction_files_are_read_or_refused(content: object, n: int) -> None:
    from handmesh.evaluation import MAX_COORDINATE_M, read_predictions

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "pred.json"
        path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
        try:
            pred = read_predictions(path, n)
        except HandmeshError as e:
            assert str(e)
            return
    assert pred.xyz.shape == (n, 21, 3) and pred.verts.shape[0] == n
    for arr in (pred.xyz, pred.verts):
        assert not np.any(np.abs(np.nan_to_num(arr)) > MAX_COORDINATE_M)


# ---------------------------------------------------------------------------------- FreiHAND-style JSON arrays
@_runs(300)
@given(content=_nested(JSON_LEAVES) | st.binary(max_size=64), shape=st.sampled_from([(21, 3), (3, 3), (61,), ()]))
def test_json_arrays_are_parsed_or_refused(content: object, shape: tuple[int, ...]) -> None:
    from handmesh.datasets.json_arrays import parse_json_array

    text = content if isinstance(content, bytes) else json.dumps(content).encode()
    try:
        arr = parse_json_array(text, shape, "fuzz.json")
    except HandmeshError as e:
        assert str(e)
        return
    assert arr.shape[1:] == shape and arr.dtype == np.float64


# --------------------------------------------------------------------------------------------------- MANO pickles
PICKLE_LEAVES = st.integers() | st.floats() | st.text(max_size=4) | st.none() | st.binary(max_size=4)


@_runs(200)
@given(
    content=st.binary(max_size=200) | st.dictionaries(st.text(max_size=5), _nested(PICKLE_LEAVES), max_size=4),
    protocol=st.sampled_from([0, 2, 5]),
)
@example(content=b"\x95\x00\x00\x00\x00\x00\x00\x00\x80", protocol=0)  # a FRAME longer than any file
@example(content=b"\x95\x00\x00\x00\x00\x00\x00\x00\x01", protocol=0)
def test_mano_pickles_are_read_or_refused(content: object, protocol: int) -> None:
    from handmesh.hand_model.mano_pickle import read_mano_pickle

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "MANO_RIGHT.pkl"
        path.write_bytes(content if isinstance(content, bytes) else pickle.dumps(content, protocol=protocol))
        try:
            out = read_mano_pickle(path)
        except HandmeshError as e:
            assert str(e)
            return
    assert isinstance(out, dict)


# ----------------------------------------------------------------------------------------------- config overrides
CONFIG_KEYS = [
    "optim.lr",
    "optim.max_steps",
    "data.batch_size",
    "data.versions",
    "model.variant",
    "model.input_size",
    "loss.joints3d",
    "train.compile",
    "optim.ema_decay",
    "nope.key",
    "optim",
]
YAML_VALUES = st.sampled_from(
    [
        ".nan",
        ".inf",
        "-.inf",
        "1e-3",
        "[gs, 3]",
        "null",
        "true",
        "{a: 1}",
        "[",
        "'x",
        "1e400",
        "-1",
        "0",
        "t8",
        "fastvit_t8",
        "3.5",
    ]
) | st.text(max_size=6)


@_runs(200)
@given(st.lists(st.tuples(st.sampled_from(CONFIG_KEYS), YAML_VALUES), max_size=3))
@example([("optim.lr", "1e400")])  # YAML reads it as a string; as a float it is infinity
@example([("optim", "?")])  # YAML reads "?" as {None: None}: a key that is no name
def test_config_overrides_are_taken_or_refused(overrides: list[tuple[str, str]]) -> None:
    import math

    from handmesh.config import load_config

    try:
        cfg = load_config(None, [f"{k}={v}" for k, v in overrides])
    except HandmeshError as e:
        assert str(e)
        return
    assert math.isfinite(cfg.optim.lr) and math.isfinite(cfg.loss.joints3d)
