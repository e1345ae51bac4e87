"""The shipped open-hand file: format, regeneration byte for byte, and the package's reader accepting it."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

import handmesh.open_hand.__main__ as cli
from handmesh.open_hand.__main__ import main
from handmesh.open_hand.generate import ASSET_KEYS, ASSET_PATH, _npy_bytes, asset_bytes

MANO_PARENTS = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14]

EXPECTED = {
    "v_template": ((778, 3), np.float32),
    "faces": ((1552, 3), np.int32),
    "shapedirs": ((778, 3, 10), np.float32),
    "posedirs": ((778, 3, 135), np.float32),
    "J_regressor": ((16, 778), np.float32),
    "weights": ((778, 16), np.float32),
    "parents": ((16,), np.int32),
    "hands_components": ((45, 45), np.float32),
    "hands_mean": ((45,), np.float32),
    "tip_vertex_ids": ((5,), np.int32),
    "is_right": ((), np.bool_),
    "format_version": ((), np.int32),
}


def test_keys_shapes_and_dtypes_match_the_model_file_format(asset):
    assert set(asset) == set(ASSET_KEYS)
    for key, (shape, dtype) in EXPECTED.items():
        assert asset[key].shape == shape, key
        assert asset[key].dtype == dtype, key
    assert asset["name"].shape == () and str(asset["name"]) == "open"
    assert bool(asset["is_right"]) is True
    assert int(asset["format_version"]) == 1
    assert asset["parents"].tolist() == MANO_PARENTS
    assert np.all(np.isfinite(asset["v_template"])) and np.all(np.isfinite(asset["shapedirs"]))


def test_posedirs_are_zero_and_said_to_be(asset):
    # The open hand has no pose correctives (documented): plain linear blend skinning.
    assert not asset["posedirs"].any()


def test_regenerating_gives_the_committed_file_byte_for_byte(generated):
    fresh = asset_bytes(generated.arrays)
    committed = ASSET_PATH.read_bytes()
    assert fresh == committed, "run `python -m handmesh.open_hand` and commit the asset"


def test_regenerated_arrays_equal_the_committed_ones(generated, asset):
    # Redundant with the byte test when it passes; when it fails, this one says which array moved.
    for key in ASSET_KEYS:
        np.testing.assert_array_equal(np.asarray(generated.arrays[key]), asset[key], err_msg=key)


def test_file_is_an_uncompressed_zip_with_fixed_timestamps():
    with zipfile.ZipFile(ASSET_PATH) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == [f"{k}.npy" for k in ASSET_KEYS]
    assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)


@pytest.mark.parametrize(
    "array",
    [
        np.array(3, dtype=np.int32),
        np.array(True),
        np.array("open"),
        np.arange(5, dtype=np.int32),
        np.linspace(0, 1, 12, dtype=np.float32).reshape(2, 3, 2),
        np.zeros((0, 3), dtype=np.float32),
    ],
    ids=["0d-int", "0d-bool", "0d-str", "1d", "3d", "empty"],
)
def test_npy_writer_round_trips_through_numpy(array):
    data = _npy_bytes(array)
    back = np.load(io.BytesIO(data), allow_pickle=False)
    assert back.shape == array.shape and back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)
    assert len(data) - array.nbytes - 10 >= 0 and (len(data) - array.nbytes) % 64 == 0  # header padded to 64


def test_cli_check_passes_on_the_committed_file_and_fails_on_another(tmp_path, capsys, monkeypatch, generated):
    # The generator itself is covered above; reuse its result instead of running it twice more.
    monkeypatch.setattr(cli, "generate_open_hand", lambda: generated)
    assert main(["--check"]) == 0
    other = tmp_path / "open_hand_right.npz"
    other.write_bytes(b"not the asset")
    assert main(["--check", "--output", str(other)]) == 1
    assert "differs" in capsys.readouterr().out


def test_package_reader_accepts_the_file():
    model_file = pytest.importorskip("handmesh.hand_model.model_file")
    arrays = model_file.read_model_file(ASSET_PATH)
    assert arrays.name == "open" and arrays.is_right and arrays.num_vertices == 778


def test_cli_writes_a_fresh_file_elsewhere(tmp_path, monkeypatch, generated):
    import handmesh.open_hand.generate as gen

    monkeypatch.setattr(gen, "generate_open_hand", lambda: generated)
    out = tmp_path / "sub" / "hand.npz"
    assert main(["--output", str(out)]) == 0
    assert out.read_bytes() == ASSET_PATH.read_bytes()
