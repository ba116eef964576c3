"""Learning curves from run directories: grouping, per-step statistics, the figure file."""

from __future__ import annotations

import json

import pytest

from sparserl.report.curves import load_curves, main, summarize


def _run(root, name, method, sparsity, seed, returns):
    run = root / name
    run.mkdir()
    (run / "config.json").write_text(
        json.dumps({"method": method, "sparsity": sparsity, "seed": seed})
    )
    lines = ["step,eval_return,train_return"]
    lines += [f"{100 * (i + 1)},{r},0" for i, r in enumerate(returns)]
    (run / "metrics.csv").write_text("\n".join(lines) + "\n")


def test_curves_average_seeds_per_group_and_step(tmp_path):
    _run(tmp_path, "a0", "dense", None, 0, [1.0, 4.0])
    _run(tmp_path, "a1", "dense", None, 1, [3.0, 8.0])
    _run(tmp_path, "b0", "rigl", 0.9, 0, [2.0, 2.0])
    (tmp_path / "unfinished").mkdir()  # no files yet: skipped
    summary = summarize(load_curves(tmp_path)).set_index(["group", "step"])
    assert summary.loc[("dense", 200)].tolist() == [6.0, 4.0, 8.0, 2]
    assert summary.loc[("rigl 0.9", 100)].tolist() == [2.0, 2.0, 2.0, 1]
    out = tmp_path / "fig" / "curves.png"
    assert main([str(tmp_path), str(out), "--title", "t"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_curves_of_an_empty_directory_name_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_curves(tmp_path)
