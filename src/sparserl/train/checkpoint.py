"""Group checkpoints at chunk boundaries: the runner's device state, the chunks done and the
metric history in one file, written atomically, so that an interrupted group resumes there."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sparserl.experiment.spec import TrainSpec
from sparserl.rundir.atomic import atomic_file, remove_file
from sparserl.types import PyTree

# One chunk's metrics: (env steps done, seconds since the group started, nested metric arrays).
HistoryEntry = tuple[int, float, dict[str, Any]]


class CheckpointError(Exception):
    """A checkpoint that cannot be used: unreadable, of another spec, or of another shape."""


def fingerprint(spec: TrainSpec) -> str:
    """A hash of everything that makes a group's program and runs: a checkpoint of another
    spec (a changed sweep) is never restored."""
    text = json.dumps(dataclasses.asdict(spec), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclasses.dataclass
class Checkpoint:
    """A group after `chunks` chunks: the runner's state (numpy leaves, PRNG keys as key data)
    and the history, with times as seconds since the group started."""

    spec_hash: str
    chunks: int
    elapsed: float
    history: list[HistoryEntry]
    state: dict[str, PyTree]


class Checkpointer:
    """Saves a group's checkpoint at a chunk boundary once `every_s` seconds have passed since
    the last save (0: every chunk), loads it back if it is this spec's, removes it when done."""

    def __init__(self, path: str | Path, spec: TrainSpec, every_s: float = 600.0):
        self.path = Path(path)
        self.spec_hash = fingerprint(spec)
        self.every_s = every_s
        self.last_save = time.perf_counter()
        self.save_seconds = 0.0  # total time spent saving, to report the overhead

    def due(self) -> bool:
        """Whether the next chunk boundary should be saved."""
        return time.perf_counter() - self.last_save >= self.every_s

    def save(self, state: dict[str, PyTree], history: list[HistoryEntry], t0: float) -> None:
        """Write the state after `len(history)` chunks; `t0` is the group's start time."""
        start = time.perf_counter()
        leaves, is_key = _numpy_leaves(state)
        meta = {
            "spec_hash": self.spec_hash,
            "chunks": len(history),
            "elapsed": start - t0,
            "names": {name: len(jax.tree.leaves(tree)) for name, tree in state.items()},
            "keys": is_key,
            "history": [(steps, now - t0, _lists(m)) for steps, now, m in history],
        }
        arrays = {f"leaf{i}": leaf for i, leaf in enumerate(leaves)}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        _save_npz_atomic(self.path, arrays)
        self.last_save = time.perf_counter()
        self.save_seconds += self.last_save - start

    def load(self) -> Checkpoint | None:
        """This spec's checkpoint, or None if there is none; raises CheckpointError if it is
        damaged or of another spec."""
        if not self.path.is_file():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as data:
                meta = json.loads(data["meta"].tobytes())
                leaves = [data[f"leaf{i}"] for i in range(len(meta["keys"]))]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            raise CheckpointError(f"{self.path}: unreadable ({error})") from error
        if meta.get("spec_hash") != self.spec_hash:
            raise CheckpointError(f"{self.path}: written for another spec")
        state, start = {}, 0
        for name, count in meta["names"].items():
            state[name] = (leaves[start : start + count], meta["keys"][start : start + count])
            start += count
        history = [(steps, seconds, m) for steps, seconds, m in meta["history"]]
        return Checkpoint(meta["spec_hash"], meta["chunks"], meta["elapsed"], history, state)

    def remove(self) -> None:
        """Delete the checkpoint (after the group's summaries are written), if there is one;
        OutputError if it cannot be deleted."""
        remove_file(self.path)


def restore(template: dict[str, PyTree], checkpoint: Checkpoint) -> dict[str, PyTree]:
    """The checkpoint's state in the structure, dtypes and key types of `template` (a freshly
    initialised runner's state); raises CheckpointError if they do not fit."""
    if set(template) != set(checkpoint.state):
        raise CheckpointError(f"holds {sorted(checkpoint.state)}, expected {sorted(template)}")
    restored = {}
    for name, tree in template.items():
        saved, is_key = checkpoint.state[name]
        leaves, treedef = jax.tree.flatten(tree)
        if len(saved) != len(leaves):
            raise CheckpointError(f"{name}: {len(saved)} arrays saved, {len(leaves)} expected")
        restored[name] = treedef.unflatten(
            _leaf(like, value, key) for like, value, key in zip(leaves, saved, is_key, strict=True)
        )
    return restored


def _leaf(like: jax.Array, value: np.ndarray, is_key: bool) -> jax.Array:
    """One saved array as a device array like `like`."""
    if is_key != _is_key(like):
        raise CheckpointError("a PRNG key saved as plain data, or the reverse")
    if is_key:
        impl = jax.random.key_impl(like)
        return jax.random.wrap_key_data(jnp.asarray(value), impl=impl)
    if value.shape != like.shape or value.dtype != like.dtype:
        raise CheckpointError(
            f"an array of {value.dtype}{list(value.shape)}, expected {like.dtype}{list(like.shape)}"
        )
    return jnp.asarray(value)


def _is_key(leaf: Any) -> bool:
    return jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _numpy_leaves(state: dict[str, PyTree]) -> tuple[list[np.ndarray], list[bool]]:
    """Every leaf of `state` (in name order) on the host; typed keys as their key data."""
    leaves = [leaf for tree in state.values() for leaf in jax.tree.leaves(tree)]
    is_key = [bool(_is_key(leaf)) for leaf in leaves]
    plain = [jax.random.key_data(x) if k else x for x, k in zip(leaves, is_key, strict=True)]
    return [np.asarray(x) for x in jax.device_get(plain)], is_key


def _lists(metrics: Any) -> Any:
    """Nested metric arrays as JSON lists (floats round-trip exactly, NaN included)."""
    if isinstance(metrics, dict):
        return {k: _lists(v) for k, v in metrics.items()}
    return np.asarray(metrics).tolist()


def _save_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez to a temporary file beside `path`, then rename it over `path`."""
    with atomic_file(path, "wb") as handle:
        np.savez(handle, **arrays)
