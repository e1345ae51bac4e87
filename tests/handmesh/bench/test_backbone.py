"""``handmesh-bench backbone`` runs end to end on a tiny setting and prints a complete table (no timing asserts)."""

from __future__ import annotations

import pytest

from handmesh.cli.bench import main

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]


def test_prints_a_table_with_threads_machine_and_ratios(capsys):
    pytest.importorskip("timm")
    rc = main(["backbone", "--variants", "t8", "--sizes", "64", "--repeats", "2", "--warmup", "0", "--threads", "1"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "threads: 1" in out and "machine:" in out
    assert "| variant | size | ours train ms | ours reparam ms |" in out
    row = next(line for line in out.splitlines() if line.startswith("| fastvit_t8 | 64 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == 12
    assert all(float(c) > 0 for c in cells[2:6])  # the four torch latencies
    assert cells[7].replace(".", "").isdigit()  # ours/timm ratio
    assert float(cells[11]) < 1e-4  # both reparameterized models agree
    assert "fastvit_t8 at 64" in err  # progress goes to stderr


def test_bad_size_is_a_user_error(capsys):
    rc = main(["backbone", "--variants", "t8", "--sizes", "100"])
    assert rc == 2
    assert "multiple of 32" in capsys.readouterr().err


def test_unknown_variant_is_a_user_error(capsys):
    rc = main(["backbone", "--variants", "t99"])
    assert rc == 2
    assert "fastvit_t8" in capsys.readouterr().err
