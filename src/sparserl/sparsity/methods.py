"""Sparse training methods: Dense, Static, Prune, SET, RigL, DynamicSparse (DS-TD3), LotteryTicket.

Each method is a frozen, hashable config object with pure functions:
- `init(params, key, counts=None, drop_fraction=None) -> (params, SparseState)`
- `update(state, params, opt_state, grads, step) -> (params, opt_state, state)`, called after
  every optimizer step with the raw (dense) gradients of that step and the number of
  optimizer steps done so far;
- `sync_target(state, online, target, tau) -> target`, called when a target network syncs.
All state is a pytree, so seeds (`key`), sparsity levels (`counts`, exact per-layer counts
computed on the host by `kept_counts(params, sparsity)`) and drop fractions can be vmapped. The
step is a separate argument so that, left unbatched, topology updates stay a real `lax.cond`
and cost nothing on the steps between them.

A new method subclasses `SparseMethod` (dense) or `MaskedMethod` (a budget spread over the
layers), declares its options as dataclass fields (`validation.option` for ranges), overrides
the hooks `initial_masks`, `is_update_step`, `evolve` and `init_extra` it needs, and calls
`register_method(cls)`: `make_method`, the CLI and sweep specs then know it by its `name`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from sparserl.sparsity import flops as flop_count
from sparserl.sparsity.distributions import (
    DISTRIBUTIONS,
    check_sparsity,
    layer_nonzeros,
    round_half_up,
)
from sparserl.sparsity.errors import SparsityConfigError
from sparserl.sparsity.initialization import sparsity_aware_scale
from sparserl.sparsity.masks import (
    apply_masks,
    kernel_shapes,
    map_kernels,
    random_mask,
    top_k_mask,
)
from sparserl.sparsity.optimizer import reset_moments
from sparserl.sparsity.schedules import cosine_drop_fraction, pruning_progress
from sparserl.sparsity.targets import TARGET_POLICIES, sync_target
from sparserl.types import Mask, PyTree, Shapes
from sparserl.validation import (
    check_fields,
    check_value,
    declared,
    from_text,
    literal,
    name_numbers,
    one_of,
    option,
    positive,
    unit,
)

# The level of a sparse method given none: 90%, the level of Graesser et al. 2022's per-agent
# comparisons (IQM at 90% sparsity across architectures and algorithms).
DEFAULT_SPARSITY = 0.9


@struct.dataclass
class SparseState:
    """Everything a method carries between steps; a pytree, so it jits and vmaps."""

    masks: Mask  # bool per sparse kernel, None for dense leaves
    nonzeros: PyTree  # int32 target count per sparse kernel (final count for Prune)
    drop_fraction: jax.Array  # initial drop fraction (SET/RigL) or eta (DynamicSparse)
    key: jax.Array
    # Method-specific state (`init_extra`, `evolve`): empty for the built-in methods.
    extra: PyTree = struct.field(default_factory=dict)


def _is_none(x: Any) -> bool:
    return x is None


def map_sparse_layers(fn: Callable, masks: Mask, *trees: PyTree) -> PyTree:
    """`fn(index, mask, *leaves)` at every sparse layer of `masks` (leaves of `trees` at the
    same place); None at dense leaves. `index` numbers the sparse layers, e.g. to fold a key."""
    flat, treedef = jax.tree.flatten(masks, is_leaf=_is_none)
    leaves = [treedef.flatten_up_to(t) for t in trees]
    return treedef.unflatten(
        [None if m is None else fn(i, m, *(ls[i] for ls in leaves)) for i, m in enumerate(flat)]
    )


def _both(a: Mask, b: Mask) -> Mask:
    return jax.tree.map(lambda x, y: None if x is None else x & y, a, b, is_leaf=_is_none)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SparseMethod:
    """Base of all methods; on its own it is the Dense method (no masks, no updates)."""

    name: ClassVar[str] = "dense"
    evolves: ClassVar[bool] = False  # True if `update` may change the topology
    uses_gradients: ClassVar[bool] = False  # True if the topology update reads the gradients
    target_policy: str = option("copy_mask", one_of(TARGET_POLICIES))

    def __post_init__(self) -> None:
        check_fields(self, SparsityConfigError)

    # ---- host side: budgets -------------------------------------------------------------
    def layer_counts(self, shapes: Shapes, sparsity: float | None = None) -> dict[str, int]:
        """Layer name -> final number of kept weights (dense layers: their full size)."""
        return flop_count.dense_counts(shapes)

    def sparse_layers(self, shapes: Shapes) -> list[str]:
        """The layers this method masks (all others stay dense and unmasked)."""
        return []

    def kept_counts(self, params: PyTree, sparsity: float | None = None) -> PyTree:
        """Per-layer target counts as a tree like the masks (int32 at sparse kernels).

        Computed on the host, exactly; stack several of them to vmap over sparsity levels.
        """
        shapes = kernel_shapes(params)
        counts = self.layer_counts(shapes, sparsity)
        sparse = set(self.sparse_layers(shapes))
        return map_kernels(
            lambda name, _: np.int32(counts[name]) if name in sparse else None, params
        )

    # ---- traced side ----------------------------------------------------------------------
    def init(
        self,
        params: PyTree,
        key: jax.Array,
        counts: PyTree | None = None,
        drop_fraction: Any = None,
    ) -> tuple[PyTree, SparseState]:
        """Initial masked params and state; `counts`/`drop_fraction`/`key` may be traced."""
        if counts is None:
            counts = self.kept_counts(params)
        mask_key, state_key = jax.random.split(key)
        masks = self.initial_masks(params, counts, mask_key)
        return self._start(params, masks, counts, drop_fraction, state_key)

    def _start(self, params, masks, counts, drop_fraction, key) -> tuple[PyTree, SparseState]:
        params = apply_masks(params, masks)
        if getattr(self, "sparsity_aware_init", False):
            params = sparsity_aware_scale(params, masks)
        if drop_fraction is None:
            drop_fraction = getattr(self, "drop_fraction", 0.0)
        state = SparseState(
            masks=masks,
            nonzeros=jax.tree.map(lambda k: jnp.asarray(k, jnp.int32), counts),
            drop_fraction=jnp.asarray(drop_fraction, jnp.float32),
            key=key,
            extra=self.init_extra(params, masks),
        )
        return params, state

    def initial_masks(self, params: PyTree, counts: PyTree, key: jax.Array) -> Mask:
        """The masks at init from per-layer target counts (a tree like the masks)."""
        return jax.tree.map(lambda _: None, counts, is_leaf=_is_none)

    def init_extra(self, params: PyTree, masks: Mask) -> PyTree:
        """The method-specific state at init (`SparseState.extra`); none by default."""
        return {}

    def is_update_step(self, step) -> jax.Array:
        """Whether `update` changes the topology after optimizer step number `step`."""
        return jnp.asarray(False)

    def update(
        self, state: SparseState, params: PyTree, opt_state: PyTree, grads: PyTree, step
    ) -> tuple[PyTree, PyTree, SparseState]:
        """Topology update after an optimizer step (a no-op except on update steps).

        Weights active before and after keep their values and moments; dropped weights become
        zero, and newly grown ones start at zero with zeroed optimizer moments (Evci et al. 2020).
        """
        if not self.evolves:
            return params, opt_state, state

        def changed(operands):
            state, params, grads = operands
            key, sub = jax.random.split(state.key)
            masks, extra = self.evolve(state, params, grads, step, sub)
            return masks, key, extra

        def unchanged(operands):
            return operands[0].masks, operands[0].key, operands[0].extra

        # Only the new masks come out of the cond; params and moments are re-masked outside
        # it (a few elementwise selects). Routing params and optimizer state through the cond
        # made every step of a scanned SET loop ~14% slower on XLA:CPU.
        grads = grads if self.uses_gradients else None
        new, key, extra = jax.lax.cond(
            self.is_update_step(step), changed, unchanged, (state, params, grads)
        )
        survivors = _both(state.masks, new)
        params = apply_masks(params, survivors)
        opt_state = reset_moments(opt_state, survivors)
        return params, opt_state, state.replace(masks=new, key=key, extra=extra)

    def evolve(
        self, state: SparseState, params: PyTree, grads: PyTree | None, step, key: jax.Array
    ) -> tuple[Mask, PyTree]:
        """(new masks, new `extra`) on an update step after optimizer step `step`; `grads`
        is None unless the class sets `uses_gradients`. Each sparse layer must keep its
        target count (`state.nonzeros`) of active weights, as the masks and counts in the
        metrics assume."""
        raise NotImplementedError

    def sync_target(self, state: SparseState, online: PyTree, target: PyTree, tau) -> PyTree:
        """Polyak-update `target` towards `online` and re-impose sparsity per `target_policy`."""
        return sync_target(self.target_policy, online, target, state.masks, tau)

    # ---- accounting -----------------------------------------------------------------------
    def training_flops(self, shapes: Shapes, positions: Mapping[str, int] | None = None) -> float:
        """Training FLOPs per example per optimizer step (RigL paper, App. H)."""
        return 3.0 * flop_count.inference_flops(self.layer_counts(shapes), positions)


class Dense(SparseMethod):
    """The dense baseline: every weight trained, nothing masked."""

    name: ClassVar[str] = "dense"


@dataclasses.dataclass(frozen=True, kw_only=True)
class MaskedMethod(SparseMethod):
    """Base of every method that masks: the budget and how it is spread over the layers,
    and random initial masks with the exact per-layer counts."""

    # None: 0.9, or with er_lambda the lambdas' own counts; a level with er_lambda scales the
    # lambdas together to meet it (see `distributions`). Range: check_sparsity below.
    sparsity: float | None = None
    # ERK everywhere, as in Graesser et al. 2022 (Sec. 4.5)
    distribution: str = option("erk", one_of(DISTRIBUTIONS))
    dense_layers: tuple[str, ...] = ()  # one layer name is taken as a 1-tuple
    dense_output: bool = False
    # {layer: lambda} for distribution="er" (Sokar et al. 2022, Eq. 2); text: LAYER=L,...
    er_lambda: Any = option(None, parse=name_numbers)
    sparsity_aware_init: bool = True  # Graesser et al. 2022 Sec. 4.7: recommended for SET/RigL

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.er_lambda, Mapping):
            object.__setattr__(self, "er_lambda", tuple(sorted(self.er_lambda.items())))
        if self.sparsity is None and not self.explicit_lambdas:
            object.__setattr__(self, "sparsity", DEFAULT_SPARSITY)
        if self.sparsity is not None:
            check_sparsity(self.sparsity)

    @property
    def explicit_lambdas(self) -> bool:
        """Whether the ER lambdas alone fix the counts (no sparsity level given)."""
        return self.er_lambda is not None and self.distribution == "er" and self.sparsity is None

    def resolved_dense_layers(self, shapes: Shapes) -> list[str]:
        """User-listed dense layers, plus the output layers when `dense_output`: the last
        layer and every layer with its leaf name (the heads of parallel sub-networks, e.g.
        `q1/head` and `q2/head` of twin critics)."""
        dense = list(self.dense_layers)
        if self.dense_output and shapes:
            leaf = list(shapes)[-1].rsplit("/", 1)[-1]
            dense += [n for n in shapes if n.rsplit("/", 1)[-1] == leaf and n not in dense]
        return dense

    def sparse_layers(self, shapes: Shapes) -> list[str]:
        dense = set(self.resolved_dense_layers(shapes))
        return [n for n in shapes if n not in dense]

    def layer_counts(self, shapes: Shapes, sparsity: float | None = None) -> dict[str, int]:
        return layer_nonzeros(
            shapes,
            self.sparsity if sparsity is None else sparsity,
            self.distribution,
            dense_layers=self.resolved_dense_layers(shapes),
            er_lambda=None if self.er_lambda is None else dict(self.er_lambda),
        )

    def initial_masks(self, params, counts, key):
        def layer(i, _, p, k):
            return random_mask(jax.random.fold_in(key, i), p.shape, k)

        return map_sparse_layers(layer, counts, params, counts)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Static(MaskedMethod):
    """Random sparse topology at init, fixed for the whole run (Graesser et al. 2022)."""

    name: ClassVar[str] = "static"


@dataclasses.dataclass(frozen=True, kw_only=True)
class LotteryTicket(MaskedMethod):
    """Lottery-ticket rewind (Frankle & Carbin 2019): retrain from the original initial
    weights with the final mask of a Prune run, fixed. `init(..., masks=pruned.masks)`."""

    name: ClassVar[str] = "lottery"
    sparsity_aware_init: bool = False  # the original init is what is rewound to

    def init(self, params, key, counts=None, drop_fraction=None, *, masks: Mask = None):
        if masks is None:
            raise SparsityConfigError(
                "LotteryTicket.init needs the final masks of a Prune run: "
                "init(initial_params, key, masks=pruned_state.masks)"
            )
        counts = jax.tree.map(
            lambda m: None if m is None else jnp.sum(m, dtype=jnp.int32), masks, is_leaf=_is_none
        )
        return self._start(params, masks, counts, drop_fraction, key)


def _schedule_step(fraction: float, total_steps: int) -> int:
    return round_half_up(fraction * total_steps)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Prune(MaskedMethod):
    """Gradual magnitude pruning (Zhu & Gupta 2017) with the cubic schedule; dense at init,
    pruned every `update_interval` steps between t_start and t_end, fixed afterwards."""

    name: ClassVar[str] = "prune"
    evolves: ClassVar[bool] = True
    total_steps: int = option(0, positive)  # optimizer steps in the run (required)
    start_fraction: float = option(0.2, unit)  # t_start = 20% of training (Graesser et al. 2022)
    end_fraction: float = option(0.8, unit)  # t_end = 80% of training (Graesser et al. 2022)
    # Graesser et al. grid [100, 250, 500, 1000, 5000]
    update_interval: int = option(1000, positive)
    sparsity_aware_init: bool = False  # starts dense

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.start_fraction >= self.end_fraction:
            raise SparsityConfigError(
                f"start_fraction ({self.start_fraction}) must be below end_fraction "
                f"({self.end_fraction})"
            )

    @property
    def start_step(self) -> int:
        return _schedule_step(self.start_fraction, self.total_steps)

    @property
    def end_step(self) -> int:
        return max(_schedule_step(self.end_fraction, self.total_steps), self.start_step + 1)

    def initial_masks(self, params, counts, key):
        return jax.tree.map(
            lambda k, p: None if k is None else jnp.ones(p.shape, bool),
            counts,
            params,
            is_leaf=_is_none,
        )

    def is_update_step(self, step):
        step = jnp.asarray(step)
        on_grid = (step % self.update_interval == 0) | (step == self.end_step)
        return on_grid & (step >= self.start_step) & (step <= self.end_step)

    def kept_count(self, size, final_count, step):
        """Weights kept at `step`: size - round((size - final) * progress); final at t_end."""
        progress = pruning_progress(step, self.start_step, self.end_step)
        pruned = jnp.floor((size - final_count) * progress + 0.5).astype(jnp.int32)
        return size - pruned

    def evolve(self, state, params, grads, step, key):
        def layer(i, mask, w, k):
            return top_k_mask(jnp.where(mask, jnp.abs(w), -1.0), self.kept_count(w.size, k, step))

        masks = map_sparse_layers(layer, state.masks, params, state.nonzeros)
        return masks, state.extra

    def pruning_steps(self) -> np.ndarray:
        """The optimizer steps after which the mask shrinks (host-side mirror of the schedule)."""
        grid = np.arange(0, self.end_step + 1, self.update_interval)
        steps = np.union1d(grid[grid >= self.start_step], [self.end_step])
        return steps[steps >= 1]

    def training_flops(self, shapes, positions=None) -> float:
        """Average over the run of 3x the inference FLOPs of the mask in force at each step:
        dense FLOPs, minus what each pruning event removes for the steps after it."""
        positions = positions or {}
        final = self.layer_counts(shapes)
        events = self.pruning_steps()
        durations = np.diff(np.append(events, self.total_steps))  # steps under each event's mask
        dense = flop_count.dense_counts(shapes)
        total = 3.0 * flop_count.inference_flops(dense, positions) * self.total_steps
        for name, size in dense.items():
            if final[name] < size:
                kept = np.asarray(self.kept_count(size, final[name], events))
                removed = 3.0 * flop_count.layer_flops(1, positions.get(name, 1))
                total -= float(np.sum(durations * (size - kept))) * removed
        return total / self.total_steps


@dataclasses.dataclass(frozen=True, kw_only=True)
class SET(MaskedMethod):
    """Sparse Evolutionary Training (Mocanu et al. 2018): every `update_interval` steps drop the
    smallest-magnitude fraction of each layer and regrow as many at random; the fraction decays
    with a cosine to 0 at `end_fraction` of training (Graesser et al. 2022)."""

    name: ClassVar[str] = "set"
    evolves: ClassVar[bool] = True
    total_steps: int = option(0, positive)  # optimizer steps in the run (required)
    # Evci et al. 2020 default; Graesser grid [0, .1, .2, .3, .5]
    drop_fraction: float = option(0.3, unit)
    # Graesser et al. grid [100, 250, 500, 1000, 5000]
    update_interval: int = option(1000, positive)
    # topology fixed for the last 20% (Graesser et al. 2022)
    end_fraction: float = option(0.8, unit)

    @property
    def end_step(self) -> int:
        return _schedule_step(self.end_fraction, self.total_steps)

    def is_update_step(self, step):
        step = jnp.asarray(step)
        return (step % self.update_interval == 0) & (step < self.end_step)

    def current_drop_fraction(self, state: SparseState, step):
        return cosine_drop_fraction(step, state.drop_fraction, self.end_step)

    def grow_scores(self, w, g, key):
        """Where to regrow (highest first) in a layer of weights `w`, gradients `g`: at
        random (SET); RigL overrides it with the gradient magnitude."""
        return jax.random.uniform(key, w.shape)

    def _grow_tiebreak(self, key):
        return None

    def evolve(self, state, params, grads, step, key):
        fraction = self.current_drop_fraction(state, step)

        def layer(i, mask, w, g, k):
            drop_key, grow_key = jax.random.split(jax.random.fold_in(key, i))
            n_drop = jnp.floor(fraction * k + 0.5).astype(jnp.int32)
            kept = top_k_mask(jnp.where(mask, jnp.abs(w), -1.0), k - n_drop)
            scores = jnp.where(kept, -1.0, self.grow_scores(w, g, grow_key))
            return kept | top_k_mask(scores, n_drop, key=self._grow_tiebreak(drop_key))

        grads = params if grads is None else grads  # SET's growth ignores them
        masks = map_sparse_layers(layer, state.masks, params, grads, state.nonzeros)
        return masks, state.extra


@dataclasses.dataclass(frozen=True, kw_only=True)
class RigL(SET):
    """Rigged Lottery (Evci et al. 2020): as SET, but regrow where the dense gradient
    magnitude is largest (ties broken at random)."""

    name: ClassVar[str] = "rigl"
    uses_gradients: ClassVar[bool] = True

    def grow_scores(self, w, g, key):
        return jnp.abs(g)

    def _grow_tiebreak(self, key):
        return key

    def training_flops(self, shapes, positions=None) -> float:
        dense = flop_count.inference_flops(flop_count.dense_counts(shapes), positions)
        sparse = flop_count.inference_flops(self.layer_counts(shapes), positions)
        return flop_count.rigl_training_flops(dense, sparse, self.update_interval)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DynamicSparse(MaskedMethod):
    """DS-TD3's dynamic sparse training (Sokar et al. 2022): Erdos-Renyi topology; every
    `update_interval` (e) steps remove the fraction `drop_fraction` (eta) of each layer's weights
    closest to zero -- the smallest positive and the largest negative ones, eta of each sign --
    and regrow as many at random, zero-initialised. Targets are pruned back by magnitude."""

    name: ClassVar[str] = "ds"
    evolves: ClassVar[bool] = True
    distribution: str = "er"  # Erdos-Renyi (Sokar et al. 2022, Eq. 2)
    dense_output: bool = True  # output layers dense (Sokar et al. 2022, Sec. 4.1)
    drop_fraction: float = option(0.05, unit)  # eta = 0.05 (Sokar et al. 2022, Sec. 4.1)
    update_interval: int = option(1000, positive)  # e = 1000 (Sokar et al. 2022, Sec. 4.1)
    sparsity_aware_init: bool = False  # DS-TD3 masks the default init
    target_policy: str = "prune_magnitude"  # Sokar et al. 2022, Alg. 1 line 32

    def is_update_step(self, step):
        return jnp.asarray(step) % self.update_interval == 0

    def evolve(self, state, params, grads, step, key):
        eta = state.drop_fraction

        def layer(i, mask, w, k):
            positive, negative = mask & (w >= 0), mask & (w < 0)
            n_pos, n_neg = jnp.sum(positive), jnp.sum(negative)
            d_pos = jnp.floor(eta * n_pos + 0.5).astype(jnp.int32)
            d_neg = jnp.floor(eta * n_neg + 0.5).astype(jnp.int32)
            kept = top_k_mask(jnp.where(positive, w, -1.0), n_pos - d_pos) | top_k_mask(
                jnp.where(negative, -w, -1.0), n_neg - d_neg
            )
            random = jax.random.uniform(jax.random.fold_in(key, i), w.shape)
            return kept | top_k_mask(jnp.where(kept, -1.0, random), d_pos + d_neg)

        masks = map_sparse_layers(layer, state.masks, params, state.nonzeros)
        return masks, state.extra


_REGISTRY: dict[str, type[SparseMethod]] = {}
# Method name -> class, in registration order: a live, read-only view of the registry.
METHODS: Mapping[str, type[SparseMethod]] = MappingProxyType(_REGISTRY)
# Field types `validation.check_fields` checks (tuple items: int or str); Any is unchecked.
_CHECKED_KINDS = (None, bool, int, float, str, tuple)


def register_method(cls: type[SparseMethod]) -> type[SparseMethod]:
    """Make method class `cls` known by its `name` to `make_method`, the CLI and sweep specs;
    returns `cls`, so it also works as a class decorator. `cls` is a frozen dataclass
    subclassing SparseMethod that sets its own `name: ClassVar[str]`; every option is an
    init field of a type `validation` checks."""
    if not (isinstance(cls, type) and issubclass(cls, SparseMethod)):
        raise SparsityConfigError(f"register_method takes a SparseMethod subclass, got {cls!r}")
    name = vars(cls).get("name")
    if not isinstance(name, str) or not name or name in {f.name for f in dataclasses.fields(cls)}:
        raise SparsityConfigError(
            f"{cls.__name__} must set its own name as a class constant, "
            f"name: ClassVar[str] = '...', got {name!r}"
        )
    if not cls.__dataclass_params__.frozen:
        raise SparsityConfigError(
            f"{cls.__name__} must be a frozen dataclass "
            "(@dataclasses.dataclass(frozen=True, kw_only=True))"
        )
    for field in declared(cls).values():
        if field.kind not in _CHECKED_KINDS or field.item not in (None, int, str):
            raise SparsityConfigError(
                f"{cls.__name__}.{field.name}: options are bool, int, float, str, "
                "tuple[int, ...], tuple[str, ...] (each may be | None) or Any"
            )
    known = _REGISTRY.get(name)
    if known is not None and known is not cls:
        raise SparsityConfigError(
            f"method name {name!r} is taken by {known.__module__}.{known.__qualname__}; "
            f"registered: {list(_REGISTRY)}"
        )
    _REGISTRY[name] = cls
    return cls


def unregister_method(name: str) -> None:
    """Forget method `name` (e.g. one a test or a notebook registered); unknown: an error."""
    method_class(name)
    del _REGISTRY[name]


for _builtin in (Dense, Static, Prune, SET, RigL, DynamicSparse, LotteryTicket):
    register_method(_builtin)


def method_class(name: str) -> type[SparseMethod]:
    """The class of method `name`, or an error listing the registered methods."""
    if name not in _REGISTRY:
        raise SparsityConfigError(f"unknown method {name!r}; choose one of {list(_REGISTRY)}")
    return _REGISTRY[name]


def _init_fields(cls: type) -> list[str]:
    """The options of a method class: its init fields, never class constants (`name`)."""
    return [f.name for f in dataclasses.fields(cls) if f.init]


def _option_classes(name: str) -> list[type[SparseMethod]]:
    """The classes whose fields are the options of method `name`: its own; a lottery rewind's
    also the Prune run's that finds its masks (experiment.spec builds both from the same
    options)."""
    own = method_class(name)
    return [own, Prune] if own is LotteryTicket else [own]


def option_names(name: str) -> list[str]:
    """The options a user may give method `name`: the init fields of its classes, not class
    constants such as `name` or `evolves`."""
    names: list[str] = []
    for cls in _option_classes(name):
        names += [f for f in _init_fields(cls) if f not in names]
    return names


def all_option_names() -> list[str]:
    """Every option of some registered method, in registration order."""
    names: list[str] = []
    for cls in _REGISTRY.values():
        names += [f for f in _init_fields(cls) if f not in names]
    return names


def check_option(name: str, option: str, value: Any) -> Any:
    """`value` of option `option` of method `name`, checked against the field's declared type
    and range (as building the method would); SparsityConfigError if it does not fit."""
    cls = next(c for c in _option_classes(name) if option in declared(c))
    return check_value(cls, option, value, SparsityConfigError)


def option_from_text(option: str, text: str) -> Any:
    """Method option `option` read from command-line text by the type its methods declare
    (an option name means the same in every method); a name no method has: a literal, for
    `make_method` to reject by name."""
    for cls in _REGISTRY.values():
        if option in declared(cls):
            return from_text(cls, option, text)
    return literal(text)


def make_method(name: str, **options: Any) -> SparseMethod:
    """Build a registered method by name (`dense`, `static`, `prune`, `set`, `rigl`, `ds`,
    `lottery`, and any added by `register_method`)."""
    cls = method_class(name)
    allowed = _init_fields(cls)
    unknown = [k for k in options if k not in allowed]
    if unknown:
        raise SparsityConfigError(
            f"method {name!r} has no option(s) {unknown}; its options are {allowed}"
        )
    return cls(**options)
