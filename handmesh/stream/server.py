"""The live hand stream: every processed frame's hands, sent over WebSocket to any number of clients.

    from handmesh.stream import HandStream
    with HandStream(port=8765) as stream:            # ws://127.0.0.1:8765/ (and the small web page at http://...)
        stream.publish(event)                        # from the pipeline's thread, once per frame; never waits

The server runs its own asyncio loop in a background thread. :meth:`HandStream.publish` only hands the event to
that loop; each client has its own sender, which always sends the newest frame it has not sent yet and counts the
ones it skipped (``dropped``). A client that reads slowly, or stops reading, therefore loses frames but never
slows the pipeline or the other clients; a client that goes away is cleaned up. The messages are described in
:mod:`handmesh.stream.schema` (and ``schema.json``). Plain HTTP requests for ``/`` get the small JavaScript client
page (``page/index.html``).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from handmesh.errors import BackendUnavailableError, ConfigError
from handmesh.stream.schema import (
    FrameEvent,
    error_message,
    event_meshes,
    faces_message,
    frame_message_text,
    hello_message,
)
from handmesh.utils.closing import Closing

__all__ = ["DEFAULT_PORT", "ClientStats", "HandStream"]

DEFAULT_PORT = 8765
SEND_BUFFER = 64 * 1024
"""Kernel send buffer per client, bytes (Linux doubles it: about ten frames with one mesh, five with two): a client
that stops reading holds at most this much, and its newer frames are counted as dropped instead of piling up."""
PAGE = Path(__file__).resolve().parent / "page" / "index.html"


@dataclass
class ClientStats:
    """One connected client, as :meth:`HandStream.clients` reports it.

    Attributes:
        address: ``"host:port"`` of the client.
        sent: frames sent to it.
        dropped: frames it missed because a newer one arrived before it had read the previous.
        meshes: whether it receives the binary mesh messages.
    """

    address: str
    sent: int
    dropped: int
    meshes: bool


class _Client:
    def __init__(self, connection: Any, meshes: bool) -> None:
        self.connection = connection
        self.meshes = meshes
        self.pending: FrameEvent | None = None
        self.errors: list[str] = []
        self.wake = asyncio.Event()
        self.sent = 0
        self.dropped = 0
        self.sides: set[str] = set()

    def stats(self) -> ClientStats:
        host, port = (self.connection.remote_address or ("?", 0))[:2]
        return ClientStats(f"{host}:{port}", self.sent, self.dropped, self.meshes)


class HandStream(Closing):
    """A WebSocket server that streams hands to clients.

    Args:
        host: the address to listen on. Default: ``"127.0.0.1"`` (this machine only; ``"0.0.0.0"`` opens it to the
            network).
        port: the port; 0 picks a free one (see :attr:`port`). Default: 8765.
        token: when set, clients must connect with ``?token=<token>`` in the URL, or are refused (HTTP 401).
        meshes: send the binary mesh messages unless a client unsubscribes. Default: True.

    Raises:
        BackendUnavailableError: the websockets package is not installed.
        ConfigError: the port is taken or the address cannot be used (the message names them).
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, token: str | None = None, meshes: bool = True
    ) -> None:
        try:
            from websockets.asyncio.server import serve
        except ImportError as e:
            raise BackendUnavailableError(
                "the hand stream needs the websockets package: pip install 'handmesh[serve]'"
            ) from e
        if token is not None and not token:
            raise ConfigError("--token: an empty token would accept anybody; give a non-empty one or none")
        self.host = host
        self.token = token
        self.meshes = meshes
        self.published = 0
        self._clients: set[_Client] = set()
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._serve = serve
        self._thread = threading.Thread(target=self._run, args=(port,), name="handmesh-stream", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            self._thread.join()
            raise ConfigError(f"cannot serve the hand stream on {host}:{port}: {self._error}") from self._error

    # ------------------------------------------------------------------ the pipeline's side (any thread)

    @property
    def url(self) -> str:
        """Where clients connect: ``ws://host:port/`` (with the token when there is one)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"ws://{host}:{self.port}/" + (f"?token={self.token}" if self.token else "")

    @property
    def page_url(self) -> str:
        """The JavaScript client page."""
        return "http" + self.url[2:]

    def publish(self, event: FrameEvent) -> None:
        """Offer one processed frame to every client; returns at once (nothing is sent on this thread)."""
        if self._closed:
            return
        event.sent = time.perf_counter()
        event.encoded.clear()  # published again (a test, a replay): encode it anew with this time
        self.published += 1
        self._loop.call_soon_threadsafe(self._offer, event)

    def clients(self) -> list[ClientStats]:
        """The connected clients and their counts."""
        future = asyncio.run_coroutine_threadsafe(self._stats(), self._loop)
        return future.result(timeout=5)

    def close(self) -> None:
        """Disconnect every client and stop the server (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    # ------------------------------------------------------------------ the server's loop (its own thread)

    def _run(self, port: int) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main(port))
        except BaseException as e:  # noqa: BLE001 - reported to the constructor when it failed to start
            self._error = e
            self._started.set()
        finally:
            self._loop.close()

    async def _main(self, port: int) -> None:
        self._stop = asyncio.Event()
        async with self._serve(
            self._handle,
            self.host,
            port,
            process_request=self._process_request,
            compression=None,
            max_size=2**16,
            logger=_quiet_logger(),
        ) as server:
            self.port = int(next(iter(server.sockets)).getsockname()[1])
            self._started.set()
            await self._stop.wait()
            for client in list(self._clients):
                client.connection.transport.abort()

    def _process_request(self, connection: Any, request: Any) -> Any:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            if urlsplit(request.path).path in ("/", "/index.html"):
                response = connection.respond(HTTPStatus.OK, PAGE.read_text(encoding="utf-8"))
                del response.headers["Content-Type"]  # respond() says text/plain
                response.headers["Content-Type"] = "text/html; charset=utf-8"
                return response
            return connection.respond(HTTPStatus.NOT_FOUND, "not found: the stream is at ws://host:port/\n")
        if self.token is not None:
            given = parse_qs(urlsplit(request.path).query).get("token", [None])[0]
            if given != self.token:
                return connection.respond(HTTPStatus.UNAUTHORIZED, "missing or wrong token (?token=...)\n")
        return None

    def _offer(self, event: FrameEvent) -> None:
        for client in self._clients:
            if client.pending is not None:
                client.dropped += 1
            client.pending = event
            client.wake.set()

    async def _stats(self) -> list[ClientStats]:
        return [c.stats() for c in self._clients]

    async def _handle(self, connection: Any) -> None:
        client = _Client(connection, self.meshes)
        sock = connection.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        self._clients.add(client)
        tasks: list[asyncio.Future] = []
        try:
            await connection.send(hello_message(client.meshes))
            tasks = [asyncio.ensure_future(self._send(client)), asyncio.ensure_future(self._read(client))]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)  # it closed, broke or stalled out
        except Exception:  # noqa: BLE001 - the connection closed or broke: clean up below
            pass
        finally:
            self._clients.discard(client)
            for task in tasks:
                task.cancel()

    async def _read(self, client: _Client) -> None:
        """Client messages: ``subscribe`` changes what it gets; anything else is answered with an error."""
        async for message in client.connection:
            try:
                request = json.loads(message) if isinstance(message, str) else None
                if not isinstance(request, dict) or request.get("type") != "subscribe":
                    raise ValueError('expected a JSON object like {"type": "subscribe", "meshes": false}')
                meshes = request.get("meshes", client.meshes)
                if not isinstance(meshes, bool):
                    raise ValueError(f"'meshes' must be true or false, got {meshes!r}")
                client.meshes = meshes
            except ValueError as e:
                client.errors.append(f"malformed client message: {e}")
            client.wake.set()

    async def _send(self, client: _Client) -> None:
        connection = client.connection
        while True:
            await client.wake.wait()
            client.wake.clear()
            while client.errors:
                await connection.send(error_message(client.errors.pop(0)))
            event, client.pending = client.pending, None
            if event is None:
                continue
            with_mesh = client.meshes and bool(event.hands)
            if with_mesh:
                for hand in event.hands:
                    if hand.handedness not in client.sides:
                        await connection.send(faces_message(hand.handedness, hand.faces))
                        client.sides.add(hand.handedness)
            await connection.send(frame_message_text(event, mesh=client.meshes, dropped=client.dropped))
            if with_mesh:
                await connection.send(event_meshes(event))
            client.sent += 1


def _quiet_logger() -> Any:
    import logging

    logger = logging.getLogger("handmesh.stream")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger
