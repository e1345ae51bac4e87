"""Atomic writes leave the permissions a plain open() would."""

from __future__ import annotations

import contextlib
import os
import stat
import sys

import pytest

from handmesh.utils.atomic import atomic_open, atomic_write_bytes, atomic_write_json

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


@contextlib.contextmanager
def _umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077, 0o027])
def test_new_file_gets_0o666_less_the_umask_like_open(tmp_path, mask):
    with _umask(mask):
        atomic_write_bytes(tmp_path / "atomic.bin", b"x")
        with open(tmp_path / "plain.bin", "wb") as f:
            f.write(b"x")
    assert _mode(tmp_path / "atomic.bin") == 0o666 & ~mask
    assert _mode(tmp_path / "atomic.bin") == _mode(tmp_path / "plain.bin")


def test_text_mode_and_json_honour_the_umask_too(tmp_path):
    with _umask(0o022):
        atomic_write_json(tmp_path / "a.json", {"k": 1})
        with atomic_open(tmp_path / "b.txt", "w") as f:
            f.write("hand")
    assert _mode(tmp_path / "a.json") == 0o644
    assert _mode(tmp_path / "b.txt") == 0o644
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == "hand"


def test_replaced_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "ckpt.pt"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    with _umask(0o000):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert _mode(path) == 0o640


def test_failed_write_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "out.json"
    with pytest.raises(RuntimeError), atomic_open(path, "w") as f:
        f.write("{")
        raise RuntimeError("interrupted")
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_umask_is_found_without_proc_and_left_unchanged(tmp_path, monkeypatch):
    import handmesh.utils.atomic as atomic

    monkeypatch.setattr(atomic, "_PROC_STATUS", tmp_path / "no_such_status")
    with _umask(0o037):
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        assert os.umask(0o037) == 0o037  # the write put the umask back
    assert _mode(tmp_path / "a.bin") == 0o640
