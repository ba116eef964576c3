"""A run's trained networks on disk: params, masks, target and initial params of every network
as flat `.npz` files (no pickle), written atomically; read back as nested dicts of arrays in the
networks' own tree structure."""

from __future__ import annotations

import dataclasses
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np

from sparserl.rundir.atomic import atomic_file
from sparserl.rundir.schema import (
    FORMAT_KEY,
    FORMAT_VERSION,
    NETWORKS,
    FormatVersionError,
    periodic_networks,
    periodic_step,
    version_problem,
)
from sparserl.types import PyTree

SEPARATOR = "/"
STEP_KEY = "step"
NETWORK_FIELDS = ("params", "masks", "target", "initial_params")  # masks: masked kernels only
# Besides the networks, what the evaluation used: "key" (raw key data of a JAX environment's
# evaluation) and PPO's observation normaliser ("obs_mean", "obs_var").
EVALUATION = "evaluation"


class NetworksFileError(Exception):
    """A networks file that is missing, unreadable or of an unknown format; one line."""


@dataclasses.dataclass(frozen=True)
class SavedNetworks:
    """One networks file: the env step it was saved at and, per network name, its `params`,
    `masks` (only the masked kernels; absent leaves are dense), `target` (if the network has
    one) and `initial_params`; plus what the evaluation used besides them (see EVALUATION)."""

    step: int
    networks: dict[str, dict[str, PyTree]]
    evaluation: dict[str, np.ndarray]


def network_fields(net: Any, initial_params: PyTree | None = None) -> dict[str, PyTree]:
    """The saved fields of one network state (anything with `params`, and optionally
    `sparse.masks` and `target`, such as train's NetState), as numpy trees."""
    sparse = getattr(net, "sparse", None)
    fields = {
        "params": net.params,
        "masks": None if sparse is None else sparse.masks,
        "target": getattr(net, "target", None),
        "initial_params": initial_params,
    }
    return {k: _to_numpy(v) for k, v in fields.items() if v is not None}


def run_slice(batched: PyTree, index: int) -> PyTree:
    """Run `index` of a tree batched over runs (leading axis: grid index), on the host."""
    return jax.tree.map(lambda x: np.array(x[index]), batched)


def save_networks(
    run_dir: str | Path,
    networks: Mapping[str, Mapping[str, PyTree]],
    *,
    step: int,
    final: bool = True,
    evaluation: Mapping[str, Any] | None = None,
) -> Path:
    """Write one run's `networks` ({name: {field: tree}}, fields among NETWORK_FIELDS, see
    `network_fields`) saved at env step `step`, and `evaluation` (see EVALUATION), atomically:
    the final networks file, or with `final=False` the periodic one of that step. Returns the
    path written."""
    arrays: dict[str, np.ndarray] = {
        FORMAT_KEY: np.asarray(FORMAT_VERSION),
        STEP_KEY: np.asarray(step),
    }
    for name, fields in networks.items():
        if name == EVALUATION:
            raise ValueError(f"a network cannot be named {EVALUATION!r}: the file uses that name")
        unknown = set(fields) - set(NETWORK_FIELDS)
        if unknown or "params" not in fields:
            raise ValueError(
                f"network {name!r} has fields {sorted(fields)}; it needs 'params' and may have "
                f"{list(NETWORK_FIELDS[1:])}"
            )
        for field, tree in fields.items():
            arrays.update(_flatten(tree, (name, field)))
    arrays.update(_flatten(dict(evaluation or {}), (EVALUATION,)))
    path = Path(run_dir) / (NETWORKS if final else periodic_networks(step))
    with atomic_file(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def saved_steps(run_dir: str | Path) -> list[int]:
    """The steps of the periodic networks files of a run, in order."""
    run_dir = Path(run_dir)
    steps = [periodic_step(p.name) for p in run_dir.iterdir()] if run_dir.is_dir() else []
    return sorted(s for s in steps if s is not None)


def load_networks(run_dir: str | Path, step: int | None = None) -> SavedNetworks:
    """The networks a run saved: its final ones, or those saved at env step `step` (a periodic
    file, or the final file if it was saved at that step). Raises NetworksFileError naming the
    file and the steps there are."""
    run_dir = Path(run_dir)
    final = run_dir / NETWORKS
    path = final if step is None else run_dir / periodic_networks(step)
    if step is not None and not path.is_file() and final.is_file():
        saved = _read(final)
        if saved.step == step:
            return saved
    if not path.is_file():
        there = ", ".join(str(s) for s in saved_steps(run_dir)) or "none"
        has_final = "a final networks file" if final.is_file() else "no final networks file"
        raise NetworksFileError(
            f"no {path.name} in {run_dir} (it has {has_final}; periodic steps: {there})"
        )
    return _read(path)


def _read(path: Path) -> SavedNetworks:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise NetworksFileError(f"{path.name}: cannot be read ({error})") from None
    meta = {k: arrays.pop(k).item() for k in (FORMAT_KEY, STEP_KEY) if k in arrays}
    problem = version_problem(meta)
    if problem is not None:
        raise FormatVersionError(f"{path.name}: {problem}")
    if STEP_KEY not in meta:
        raise NetworksFileError(f"{path.name}: no {STEP_KEY!r} entry")
    tree = _unflatten(arrays)
    evaluation = tree.pop(EVALUATION, {})
    return SavedNetworks(int(meta[STEP_KEY]), tree, evaluation)


def _to_numpy(tree: PyTree) -> PyTree:
    return jax.tree.map(np.asarray, jax.device_get(tree))


def _flatten(tree: PyTree, prefix: tuple[str, ...]) -> dict[str, np.ndarray]:
    """{"a/b/c": leaf} for a tree of nested string-keyed mappings; None leaves are left out."""
    flat = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        keys = []
        for entry in path:
            key = getattr(entry, "key", None)
            if not isinstance(key, str) or SEPARATOR in key or not key:
                raise ValueError(
                    f"cannot save {SEPARATOR.join(prefix)}: path {jax.tree_util.keystr(path)} "
                    f"is not made of non-empty dict keys without {SEPARATOR!r}"
                )
            keys.append(key)
        flat[SEPARATOR.join((*prefix, *keys))] = np.asarray(leaf)
    return flat


def _unflatten(arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The nested dicts `_flatten` flattened."""
    tree: dict[str, Any] = {}
    for key, value in arrays.items():
        *parents, leaf = key.split(SEPARATOR)
        node = tree
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return tree


class NetworkWriter:
    """The training side of saving networks: takes a runner (anything with `networks()` ->
    {name: state batched over runs} and `evaluation()` -> {name: array [R, ...]}) and the
    initial params captured before its first chunk; `write` saves one run's networks after
    an evaluation when due: after the last (the final file) and, with `every`, after every
    `every`-th (a periodic file)."""

    def __init__(
        self, runner: Any, initial: dict[str, PyTree], evaluations: int, every: int | None
    ):
        self.runner, self.initial = runner, initial
        self.evaluations, self.every = evaluations, every

    def due(self, evaluation: int) -> bool:
        """Whether networks are saved after evaluation number `evaluation` (from 1)."""
        last = evaluation == self.evaluations
        return last or (self.every is not None and evaluation % self.every == 0)

    def write(self, run_dirs: list[tuple[int, Path]], evaluation: int, step: int) -> None:
        """Save the networks of every (grid index, directory) of `run_dirs` after evaluation
        `evaluation` (at env step `step`)."""
        networks = {
            name: network_fields(net, self.initial[name])
            for name, net in self.runner.networks().items()
        }
        used = _to_numpy(self.runner.evaluation())
        for index, run_dir in run_dirs:
            save_networks(
                run_dir,
                run_slice(networks, index),
                step=step,
                final=evaluation == self.evaluations,
                evaluation=run_slice(used, index),
            )


def initial_params(networks: Mapping[str, Any]) -> dict[str, PyTree]:
    """{name: params} of batched network states, copied to the host (so that a later chunk
    that donates the device buffers cannot touch them)."""
    return {name: jax.tree.map(np.array, net.params) for name, net in networks.items()}
