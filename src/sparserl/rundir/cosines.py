"""The gradient cosine matrices a run's probe saved (`train.core.probing`): one npz per chosen
probe, {network: [N, N]}, named by its evaluation step (`schema.gradient_cosine_file`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from sparserl.rundir.atomic import atomic_file
from sparserl.rundir.schema import gradient_cosine_file, gradient_cosine_step


def save_gradient_cosines(
    run_dir: str | Path, step: int, matrices: Mapping[str, np.ndarray]
) -> Path:
    """Write one probe's matrices ({network: [N, N]}) at evaluation step `step`, atomically."""
    path = Path(run_dir) / gradient_cosine_file(step)
    with atomic_file(path, "wb") as handle:
        np.savez(handle, **{name: np.asarray(m, np.float32) for name, m in matrices.items()})
    return path


def load_gradient_cosines(run_dir: str | Path) -> dict[int, dict[str, np.ndarray]]:
    """{step: {network: [N, N]}} of every gradient cosine file of a run, by step."""
    run_dir = Path(run_dir)
    found = {}
    for path in run_dir.iterdir() if run_dir.is_dir() else ():
        step = gradient_cosine_step(path.name)
        if step is not None:
            with np.load(path, allow_pickle=False) as data:
                found[step] = {name: data[name] for name in data.files}
    return dict(sorted(found.items()))
