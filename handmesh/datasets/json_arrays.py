"""Fast, validating reader for JSON files that hold one regular nested list of numbers.

FreiHAND's annotations are such lists (``training_verts.json`` is 1.5 GB of ``[[[x, y, z], ...], ...]``). Python's
``json`` module needs about 20 s and several GB of objects for that file; this reader streams it in chunks, parses
the numbers with NumPy and checks the nesting exactly, so a ragged or truncated file fails with the entry it broke at.

How the check works: once whitespace is removed, a regular array of entry shape ``(d1, ..., dk)`` is a sequence of
numbers whose separators are fully determined by the position of the number: after number ``j`` (0-based, counted
within the file) comes ``"]" * m + "," + "[" * m`` where ``m`` counts the trailing dimensions that roll over at
``j + 1`` (``m = k`` between two entries). Counting the brackets on both sides of every comma and comparing them with
that pattern verifies the structure with a few vectorised passes over the bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from handmesh.errors import DataError

_WHITESPACE = b" \t\r\n"
_OPEN, _CLOSE, _COMMA = ord("["), ord("]"), ord(",")
_NUMBER_CHARS = b"0123456789+-.eE[],"


def read_json_array(
    path: str | os.PathLike,
    entry_shapes: Sequence[tuple[int, ...]],
    *,
    out_file: str | os.PathLike | None = None,
    chunk_bytes: int = 16 << 20,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray | None, tuple[int, ...]]:
    """Read a JSON list of equally shaped numeric entries into float64.

    Args:
        path: the JSON file.
        entry_shapes: accepted shapes of one entry, e.g. ``[(21, 3)]`` or ``[(1, 61), (61,)]``; the nesting depth of
            the file picks one (shapes of equal depth are not distinguished: list only one per depth).
        out_file: if given, the numbers are streamed to this raw float64 file (C order) instead of being returned;
            it is written beside itself as ``.tmp`` and renamed into place when complete.
        chunk_bytes: bytes read per step. Default: 16 MiB.
        on_progress: called as ``on_progress(bytes_done, bytes_total)`` after each chunk. Default: none.

    Returns:
        ``(array, shape)``: the ``(N, *entry_shape)`` float64 array (``None`` when ``out_file`` is given) and its shape.

    Raises:
        DataError: the file is not such a list (names the file, the entry and the expected shape).
    """
    path = Path(path)
    total = path.stat().st_size
    with open(path, "rb") as f:
        head = _strip(f.read(4096))
        depth = len(head) - len(head.lstrip(b"["))
        by_depth = {len(s) + 1: s for s in entry_shapes}
        if depth not in by_depth:
            raise DataError(
                f"{path}: expected a JSON list of {_describe(entry_shapes)} entries; the file starts with {head[:40]!r}"
            )
        shape = tuple(by_depth[depth])
        f.seek(0)
        parser = _ChunkParser(path, shape)
        sink = _RawSink(out_file) if out_file is not None else None
        parts: list[np.ndarray] = []
        buf = b""
        started = False
        done = 0
        try:
            while True:
                raw = f.read(chunk_bytes)
                done += len(raw)
                buf += _strip(raw)
                if not started and buf:
                    buf = buf[1:]  # the outer "["
                    started = True
                if not raw:
                    if not buf.endswith(b"]"):
                        raise DataError(f"{path}: the file ends early (truncated download?): no closing ']'")
                    piece, buf = buf[:-1], b""
                else:
                    piece, buf = parser.split_complete(buf)
                if piece:
                    numbers = parser.parse(piece)
                    if sink is not None:
                        sink.write(numbers)
                    else:
                        parts.append(numbers)
                if on_progress is not None:
                    on_progress(done, total)
                if not raw:
                    break
            if parser.entries == 0:
                raise DataError(f"{path}: the list is empty; expected {_describe(entry_shapes)} entries")
            out_shape = (parser.entries, *shape)
            if sink is not None:
                sink.commit()
                return None, out_shape
            return np.concatenate(parts).reshape(out_shape), out_shape
        finally:
            if sink is not None:
                sink.discard()


def parse_json_array(text: bytes, entry_shape: tuple[int, ...], name: str = "array") -> np.ndarray:
    """Parse one JSON list of ``entry_shape`` entries held in memory (whitespace allowed) into float64.

    Args:
        text: the JSON text of the list, e.g. ``b"[[[1, 2, 3], ...], ...]"``.
        entry_shape: shape of one entry, e.g. ``(21, 3)``.
        name: what the list is, for error messages. Default: "array".

    Raises:
        DataError: not such a list (names the entry).
    """
    body = _strip(text)
    if len(body) < 2 or body[:1] != b"[" or body[-1:] != b"]":
        raise DataError(f"{name}: expected a JSON list of {_describe([entry_shape])} entries")
    parser = _ChunkParser(Path(name), tuple(entry_shape))
    numbers = parser.parse(body[1:-1]) if len(body) > 2 else np.zeros(0)
    return numbers.reshape(parser.entries, *entry_shape)


class _ChunkParser:
    """Parses whole entries ``"E,E,...,E"`` (whitespace removed) and checks their structure."""

    def __init__(self, path: Path, shape: tuple[int, ...]):
        self.path = path
        self.shape = shape
        self.k = len(shape)
        self.entry_size = int(np.prod(shape)) if shape else 1
        # Brackets around the comma after each number of one entry: how many nesting levels roll over there
        # (for (21, 3): 0, 0, 1, 0, 0, 1, ..., and k = 2 after the entry's last number, where the next entry starts).
        ordinal = np.arange(1, self.entry_size + 1)
        periods = np.cumprod(shape[::-1]) if shape else np.zeros(0, np.int64)
        self.entry_pattern = (ordinal[:, None] % periods[None, :] == 0).sum(axis=1).astype(np.int8)
        self.top_sep = b"]" * self.k + b"," + b"[" * self.k
        self.entries = 0

    def split_complete(self, buf: bytes) -> tuple[bytes, bytes]:
        """Split ``buf`` after its last complete entry; return ``(complete entries, remainder)``."""
        cut = buf.rfind(self.top_sep)
        if cut < 0:
            return b"", buf
        return buf[: cut + self.k], buf[cut + self.k + 1 :]

    def parse(self, piece: bytes) -> np.ndarray:
        """Numbers of ``piece`` (whole entries) as float64, after checking every separator."""
        k = self.k
        if piece[:k] != b"[" * k or piece[len(piece) - k :] != b"]" * k:
            self._fail(0, "does not start and end with the expected brackets")
        b = np.frombuffer(piece, dtype=np.uint8)
        commas = np.flatnonzero(b == _COMMA)
        try:
            numbers = np.fromstring(piece.translate(None, b"[]"), dtype=np.float64, sep=",")
        except ValueError:
            # Point at the entry holding the first character that cannot be part of a JSON number.
            first = int(np.argmax(~np.isin(b, np.frombuffer(_NUMBER_CHARS, np.uint8))))
            self._fail(int(np.searchsorted(commas, first)) // self.entry_size, "holds something other than numbers")
        if numbers.size != commas.size + 1:
            self._fail(numbers.size // self.entry_size, "holds something other than numbers")
        if k:
            closes_before = _run_length(b, commas, -1, _CLOSE, k + 1)
            opens_after = _run_length(b, commas, +1, _OPEN, k + 1)
            # The pattern of one entry, repeated; the last number of the piece has no comma after it.
            expected = np.tile(self.entry_pattern, numbers.size // self.entry_size + 1)[: commas.size]
            bad = np.flatnonzero((closes_before != expected) | (opens_after != expected))
            if bad.size:
                self._fail(int(bad[0]) // self.entry_size, "is not shaped like the others")
        if numbers.size % self.entry_size:
            self._fail(numbers.size // self.entry_size, "is incomplete")
        self.entries += numbers.size // self.entry_size
        return numbers

    def _fail(self, entry_in_piece: int, what: str) -> None:
        shape = "x".join(map(str, self.shape)) or "a single number"
        raise DataError(
            f"{self.path}: entry {self.entries + entry_in_piece} {what}; "
            f"every entry must be a {shape} nested list of numbers, as in the official FreiHAND files"
        )


def _run_length(b: np.ndarray, at: np.ndarray, step: int, char: int, limit: int) -> np.ndarray:
    """How many ``char`` bytes follow (step +1) or precede (step -1) each position in ``at``, counted up to
    ``limit``; a gather per step, so the cost is proportional to ``len(at)``, not to the bytes."""
    count = np.zeros(len(at), np.int8)
    running = np.ones(len(at), bool)
    for m in range(1, limit + 1):
        idx = at + step * m
        inside = (idx >= 0) & (idx < b.size)
        running &= inside
        running[inside] &= b[idx[inside]] == char
        count += running
    return count


class _RawSink:
    """Appends float64 numbers to ``<path>.tmp`` and renames it to ``path`` on commit."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(self.path.name + ".tmp")
        self.f = open(self.tmp, "wb")  # noqa: SIM115 - closed in commit/discard

    def write(self, numbers: np.ndarray) -> None:
        self.f.write(np.ascontiguousarray(numbers, dtype=np.float64).tobytes())

    def commit(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        if not self.f.closed:
            self.f.close()
        if self.tmp.exists():
            self.tmp.unlink()


def _strip(b: bytes) -> bytes:
    return b.translate(None, _WHITESPACE)


def _describe(shapes: Sequence[tuple[int, ...]]) -> str:
    return " or ".join("x".join(map(str, s)) if s else "number" for s in shapes)
