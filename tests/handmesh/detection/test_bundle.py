"""Building and finding the hand-landmarker bundle, on fake wheels (no pip, no network)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from handmesh.detection import bundle as bundle_mod
from handmesh.detection.bundle import (
    BUNDLE_MEMBERS,
    build_hand_landmarker_bundle,
    bundle_from_wheel,
    check_bundle,
    find_hand_landmarker,
)
from handmesh.errors import BackendUnavailableError, DataError, MissingFileError

PALM = "mediapipe/modules/palm_detection/palm_detection_full.tflite"
LANDMARK = "mediapipe/modules/hand_landmark/hand_landmark_full.tflite"


def fake_wheel(path: Path, members: dict[str, bytes] | None = None) -> Path:
    """A zip laid out like the mediapipe wheel, with dummy model bytes (and some unrelated files)."""
    members = members if members is not None else {PALM: b"palm-model", LANDMARK: b"landmark-model"}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mediapipe/__init__.py", "")
        zf.writestr("mediapipe/modules/palm_detection/palm_detection_lite.tflite", b"lite")
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No user bundle or cache leaks into these tests."""
    monkeypatch.delenv("HANDMESH_HAND_LANDMARKER", raising=False)
    monkeypatch.setenv("HANDMESH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_bundle_from_wheel_renames_the_two_models(tmp_path: Path) -> None:
    out = bundle_from_wheel(fake_wheel(tmp_path / "mp.whl"), tmp_path / "sub" / "hand.task")
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["hand_detector.tflite", "hand_landmarks_detector.tflite"]
        assert zf.read("hand_detector.tflite") == b"palm-model"
        assert zf.read("hand_landmarks_detector.tflite") == b"landmark-model"
        assert all(info.compress_type == zipfile.ZIP_STORED for info in zf.infolist())
    assert check_bundle(out) == out
    assert set(BUNDLE_MEMBERS) == {PALM, LANDMARK}


def test_build_writes_into_cache_and_find_locates_it(isolated_env: Path, tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="--setup-detector"):
        find_hand_landmarker()
    out = build_hand_landmarker_bundle(wheel=fake_wheel(tmp_path / "mp.whl"))
    assert out == isolated_env / "hand_landmarker.task"
    assert find_hand_landmarker() == out


def test_build_into_explicit_folder(tmp_path: Path) -> None:
    out = build_hand_landmarker_bundle(tmp_path / "elsewhere", wheel=fake_wheel(tmp_path / "mp.whl"))
    assert out == tmp_path / "elsewhere" / "hand_landmarker.task" and out.is_file()


def test_build_downloads_through_pip_when_no_wheel_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = []

    def fake_download(dest: str, version: str = "0.10.21") -> Path:
        calls.append(version)
        return fake_wheel(Path(dest) / f"mediapipe-{version}-cp311-none-any.whl")

    monkeypatch.setattr(bundle_mod, "download_mediapipe_wheel", fake_download)
    out = build_hand_landmarker_bundle(tmp_path / "c")
    assert calls == ["0.10.21"] and check_bundle(out) == out


def test_failed_pip_download_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    class Proc:
        returncode = 1
        stdout = ""
        stderr = "ERROR: No matching distribution found for mediapipe==0.10.21"

    monkeypatch.setattr(bundle_mod.subprocess, "run", lambda *a, **k: Proc())
    with pytest.raises(BackendUnavailableError, match="hand_landmarker.task") as e:
        bundle_mod.download_mediapipe_wheel(tmp_path)
    assert "No matching distribution" in str(e.value)


def test_explicit_path_and_env_var(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    good = bundle_from_wheel(fake_wheel(tmp_path / "mp.whl"), tmp_path / "official.task")
    assert find_hand_landmarker(good) == good
    monkeypatch.setenv("HANDMESH_HAND_LANDMARKER", str(good))
    assert find_hand_landmarker() == good
    monkeypatch.setenv("HANDMESH_HAND_LANDMARKER", str(tmp_path / "nope.task"))
    with pytest.raises(MissingFileError, match="HANDMESH_HAND_LANDMARKER=.*nope.task"):
        find_hand_landmarker()


def test_missing_explicit_path_names_it(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="missing.task"):
        find_hand_landmarker(tmp_path / "missing.task")


def test_invalid_bundles_name_the_file(tmp_path: Path) -> None:
    not_zip = tmp_path / "text.task"
    not_zip.write_text("hello")
    with pytest.raises(DataError, match="text.task is not a .task"):
        check_bundle(not_zip)
    half = tmp_path / "half.task"
    with zipfile.ZipFile(half, "w") as zf:
        zf.writestr("hand_detector.tflite", b"x")
    with pytest.raises(DataError, match="half.task lacks hand_landmarks_detector.tflite"):
        check_bundle(half)


def test_wheel_without_models_is_rejected(tmp_path: Path) -> None:
    wheel = fake_wheel(tmp_path / "new.whl", members={PALM: b"p"})
    with pytest.raises(DataError, match="hand_landmark_full.tflite"):
        bundle_from_wheel(wheel, tmp_path / "x.task")
    assert not (tmp_path / "x.task").exists()
    bad = tmp_path / "bad.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a zip"):
        bundle_from_wheel(bad, tmp_path / "y.task")
    with pytest.raises(MissingFileError, match="absent.whl"):
        bundle_from_wheel(tmp_path / "absent.whl", tmp_path / "z.task")
