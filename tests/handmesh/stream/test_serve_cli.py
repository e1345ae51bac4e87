"""``handmesh-serve`` end to end on the sample clip: a client connected while the pipeline runs gets the frames, in
order, with hands, until the run ends and the server closes the connection."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("websockets")

from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from handmesh.cli import serve  # noqa: E402
from handmesh.stream.schema import decode_meshes  # noqa: E402

CLIP = Path(__file__).resolve().parents[3] / "handmesh" / "assets" / "sample_clip.mp4"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_streams_the_clip_to_a_client() -> None:
    port, frames = _free_port(), 40
    codes: list[int] = []
    runner = threading.Thread(
        target=lambda: codes.append(
            serve.main(["--video", str(CLIP), "--max-frames", str(frames), "--serve", str(port), "--no-view"])
        )
    )
    runner.start()
    deadline, ws = time.monotonic() + 120, None
    while ws is None and time.monotonic() < deadline and runner.is_alive():
        try:
            ws = connect(f"ws://127.0.0.1:{port}/", open_timeout=2)
        except OSError:
            time.sleep(0.05)
    assert ws is not None, "the server never came up"
    received, meshes = [], 0
    with ws:
        assert json.loads(ws.recv(timeout=60))["type"] == "hello"
        try:
            while True:
                message = ws.recv(timeout=60)
                if isinstance(message, bytes):
                    meshes += decode_meshes(message).vertices.shape[0] > 0
                elif json.loads(message)["type"] == "frame":
                    received.append(json.loads(message))
        except ConnectionClosed:
            pass
    runner.join(timeout=60)
    assert codes == [0]
    indices = [m["frame"] for m in received]
    assert indices == sorted(indices) and len(set(indices)) == len(indices)
    assert len(received) + received[-1]["dropped"] >= frames - 2  # what it did not get, it was told it dropped
    with_hands = [m for m in received if m["hands"]]
    assert len(with_hands) >= 0.9 * len(received) and meshes == len(with_hands)
    assert all(len(h["keypoints3d"]) == 21 and h["side"] == "right" for m in with_hands for h in m["hands"])


def test_bad_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        serve.main(["--serve", "70000"])
    assert e.value.code == 2 and "expected a port number 0-65535" in capsys.readouterr().err
