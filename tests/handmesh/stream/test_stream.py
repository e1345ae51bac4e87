"""The hand stream against a recorded clip: the schema, the counts, the binary meshes, slow clients, tokens, bad
messages and reconnects. Hands come from the real pipeline on the shipped sample clip, so what is checked is what a
client of ``handmesh-serve`` gets."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("websockets")
jsonschema = pytest.importorskip("jsonschema")

from websockets.exceptions import InvalidStatus  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from handmesh.bench.stream import stalled_client  # noqa: E402
from handmesh.errors import ConfigError  # noqa: E402
from handmesh.stream.schema import FrameEvent, decode_meshes  # noqa: E402
from handmesh.stream.server import HandStream  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
CLIP = ROOT / "handmesh" / "assets" / "sample_clip.mp4"
SCHEMA = json.loads((ROOT / "handmesh" / "stream" / "schema.json").read_text())
FRAMES = 6


@pytest.fixture(scope="module")
def clip_events() -> list[FrameEvent]:
    """The sample clip's first frames and their hands, each beside its mirror image (a right and a left hand)."""
    import handmesh

    truth = json.loads(CLIP.with_suffix(".json").read_text())
    K = np.array(truth["K"], float)
    cap = cv2.VideoCapture(str(CLIP))
    events = []
    with handmesh.load(mode="image", max_hands=2) as estimator:
        for i in range(FRAMES):
            ok, bgr = cap.read()
            assert ok
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            both = np.ascontiguousarray(np.hstack([rgb, rgb[:, ::-1]]))
            hands = estimator(both, K=K)
            events.append(FrameEvent(index=i, timestamp_ms=i * 1000 / 30, image=both, K=K, hands=hands))
    cap.release()
    assert sum(len(e.hands) for e in events) >= FRAMES and {h.handedness for e in events for h in e.hands} == {
        "left",
        "right",
    }
    return events


def _validate(message: str) -> dict:
    data = json.loads(message)
    jsonschema.validate(data, SCHEMA)
    return data


def _next_frame(ws, timeout: float = 10.0) -> tuple[dict, list[dict], bytes | None]:
    """The next frame message, the faces messages before it, and its binary mesh message."""
    faces = []
    while True:
        data = _validate(ws.recv(timeout=timeout))
        if data["type"] == "faces":
            faces.append(data)
        elif data["type"] == "frame":
            mesh = ws.recv(timeout=timeout) if data["mesh"] is not None else None
            return data, faces, mesh


def test_a_client_gets_every_frame_with_the_schema_and_the_exact_meshes(clip_events) -> None:
    with HandStream(port=0) as stream, connect(stream.url) as ws:
        hello = _validate(ws.recv(timeout=10))
        assert hello["type"] == "hello" and hello["meshes"] is True
        sides_sent = []
        for event in clip_events:  # lockstep: publish, then read it, so no frame is dropped
            stream.publish(event)
            frame, faces, mesh = _next_frame(ws)
            sides_sent += [f["side"] for f in faces]
            for f in faces:
                hand = next(h for h in event.hands if h.handedness == f["side"])
                np.testing.assert_array_equal(np.array(f["faces"]), hand.faces)
            assert frame["frame"] == event.index and frame["dropped"] == 0
            assert frame["image_size"] == [event.image.shape[1], event.image.shape[0]]
            np.testing.assert_allclose(frame["K"], event.K, atol=1e-4)
            assert [h["side"] for h in frame["hands"]] == [h.handedness for h in event.hands]
            for sent, hand in zip(frame["hands"], event.hands):
                np.testing.assert_allclose(sent["keypoints3d"], hand.joints, atol=1e-5)
                np.testing.assert_allclose(sent["keypoints2d"], hand.joints2d, atol=0.01)
                assert sent["refined"] == hand.refined
            if event.hands:
                decoded = decode_meshes(mesh)
                assert decoded.frame == event.index
                np.testing.assert_array_equal(decoded.vertices, np.stack([h.vertices for h in event.hands]))
            else:
                assert mesh is None
        assert sorted(sides_sent) == ["left", "right"]  # each side's faces once per connection
        (stats,) = stream.clients()
        assert stats.sent == len(clip_events) and stats.dropped == 0


def test_a_stalled_client_drops_frames_and_slows_no_one(clip_events) -> None:
    """A client that stops reading, with a small receive buffer: its drop count rises while a reading client gets
    the frames at the pipeline's rate and publishing never waits."""
    event = next(e for e in clip_events if len(e.hands) == 2)
    with HandStream(port=0) as stream:
        stalled = stalled_client(stream.port)  # 4 kB receive buffer, handshake done; from now on it never reads
        with connect(stream.url) as ws:
            ws.recv(timeout=10)  # hello
            deadline = time.monotonic() + 5
            while len(stream.clients()) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            n, period = 300, 1 / 200  # 200 frames a second, each with two meshes (~22 kB)
            publish_s, received, t0 = [], 0, time.perf_counter()
            for i in range(n):
                t = time.perf_counter()
                stream.publish(FrameEvent(i, i * 5.0, event.image, event.K, event.hands))
                publish_s.append(time.perf_counter() - t)
                while True:  # read whatever has arrived, without waiting
                    try:
                        message = ws.recv(timeout=0)
                    except TimeoutError:
                        break
                    received += isinstance(message, str) and json.loads(message)["type"] == "frame"
                time.sleep(max(0.0, t0 + (i + 1) * period - time.perf_counter()))
            elapsed = time.perf_counter() - t0
            while True:
                try:
                    message = ws.recv(timeout=0.5)
                except TimeoutError:
                    break
                received += isinstance(message, str) and json.loads(message)["type"] == "frame"
            stats = {s.sent + s.dropped > 0 and s.address: s for s in stream.clients()}
        stalled.close()
    slow = min(stats.values(), key=lambda s: s.sent)
    fast = max(stats.values(), key=lambda s: s.sent)
    assert slow.dropped > n // 2, stats  # the stalled client's frames were dropped, not queued
    assert received >= 0.9 * n and fast.dropped <= 0.1 * n, (received, fast)
    assert elapsed < 1.5 * n * period  # the publishing loop kept its rate
    assert np.median(publish_s) < 1e-3 and max(publish_s) < 0.05


def test_reconnecting_client_starts_again_with_hello_and_faces(clip_events) -> None:
    event = next(e for e in clip_events if e.hands)
    with HandStream(port=0) as stream:
        for _ in range(2):
            with connect(stream.url) as ws:
                assert _validate(ws.recv(timeout=10))["type"] == "hello"
                deadline = time.monotonic() + 5
                while len(stream.clients()) != 1 and time.monotonic() < deadline:
                    time.sleep(0.01)
                stream.publish(event)
                frame, faces, mesh = _next_frame(ws)
                assert frame["frame"] == event.index and faces and mesh is not None
        deadline = time.monotonic() + 5
        while stream.clients() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stream.clients() == []  # the disconnected clients were cleaned up


def test_a_token_is_required_when_set(clip_events) -> None:
    with HandStream(port=0, token="s3cret") as stream:
        base = f"ws://127.0.0.1:{stream.port}/"
        for url in (base, base + "?token=wrong"):
            with pytest.raises(InvalidStatus) as e:
                connect(url, open_timeout=5)
            assert e.value.response.status_code == 401
        with connect(base + "?token=s3cret") as ws:
            assert _validate(ws.recv(timeout=10))["type"] == "hello"
    with pytest.raises(ConfigError, match="empty token"):
        HandStream(port=0, token="")


def test_malformed_messages_get_an_error_and_subscribe_stops_meshes(clip_events) -> None:
    event = next(e for e in clip_events if e.hands)
    with HandStream(port=0) as stream, connect(stream.url) as ws:
        ws.recv(timeout=10)
        for bad in ("not json", '{"type": "dance"}', '{"type": "subscribe", "meshes": "no"}', b"\x00\x01"):
            ws.send(bad)
            error = _validate(ws.recv(timeout=10))
            assert error["type"] == "error" and "malformed client message" in error["message"]
        ws.send(json.dumps({"type": "subscribe", "meshes": False}))
        time.sleep(0.2)
        stream.publish(event)
        frame, faces, mesh = _next_frame(ws)
        assert frame["mesh"] is None and mesh is None and faces == [] and len(frame["hands"]) == len(event.hands)


def test_the_web_page_is_served_and_a_taken_port_is_named() -> None:
    with HandStream(port=0) as stream:
        with urllib.request.urlopen(stream.page_url, timeout=10) as r:
            page = r.read().decode()
            assert r.headers["Content-Type"].startswith("text/html")
        assert "new WebSocket(" in page and "HMSH" in page
        with pytest.raises(ConfigError, match=f"127.0.0.1:{stream.port}"):
            HandStream(port=stream.port)


def test_a_frame_is_encoded_once_for_all_clients(clip_events) -> None:
    from handmesh.stream.schema import event_meshes, frame_message, frame_message_text

    event = next(e for e in clip_events if e.hands)
    texts = [frame_message_text(event, mesh=True, dropped=d) for d in (0, 7, 123)]
    assert [_validate(t)["dropped"] for t in texts] == [0, 7, 123]
    assert json.loads(texts[1]) == {**frame_message(event, mesh=True), "dropped": 7}
    assert _validate(frame_message_text(event, mesh=False))["mesh"] is None
    assert event_meshes(event) is event_meshes(event)  # encoded once, shared by every client
