"""What every training program does to a sparse network, written once for all agents: the
network state (`NetState`), the masked optimizer, one optimizer step followed by the method's
topology update, the target sync (together the masked trainer, `NetworkTrainer`), and the
per-layer counts that check masks are respected."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import optax
from flax import struct

from sparserl.sparsity import SparseMethod, SparseState, apply_masks, masked
from sparserl.sparsity.masks import kernel_name
from sparserl.types import PyTree


@dataclasses.dataclass(frozen=True)
class Optimizer:
    """Masked Adam whose learning rate and weight decay live in the state (vmappable).

    Weight decay is AdamW's decoupled decay by default; `l2=True` adds `weight_decay * w` to
    the gradient before Adam instead, which is what PyTorch's `Adam(weight_decay=...)` does
    (the DS-TD3 code of Sokar et al. 2022).
    """

    adam_eps: float
    l2: bool = False

    def _adam(self, learning_rate, weight_decay) -> optax.GradientTransformation:
        if self.l2:
            return optax.chain(
                optax.add_decayed_weights(weight_decay),
                optax.adam(learning_rate, eps=self.adam_eps),
            )
        return optax.adamw(learning_rate, eps=self.adam_eps, weight_decay=weight_decay)

    @functools.cached_property
    def transform(self) -> optax.GradientTransformationExtraArgs:
        return masked(optax.inject_hyperparams(self._adam)(0.0, 0.0))

    def init(self, params: PyTree, learning_rate, weight_decay) -> PyTree:
        """Optimizer state holding this run's (possibly traced) learning rate and decay."""
        return optax.inject_hyperparams(self._adam)(learning_rate, weight_decay).init(params)

    def step(
        self,
        method: SparseMethod,
        params: PyTree,
        opt_state: PyTree,
        sparse: SparseState,
        grads: PyTree,
        step,
    ) -> tuple[PyTree, PyTree, SparseState]:
        """One masked optimizer step, then the method's topology update after step `step`."""
        updates, opt_state = self.transform.update(grads, opt_state, params, masks=sparse.masks)
        params = optax.apply_updates(params, updates)
        return method.update(sparse, params, opt_state, grads, step)


@struct.dataclass
class NetState:
    """One network of a run: weights, optimizer state, sparse state (masks) and target (or
    None). Every program keeps its networks in this type, batched over runs by vmap."""

    params: PyTree
    opt_state: PyTree
    sparse: SparseState
    target: PyTree = None


def init_net(
    method: SparseMethod,
    optimizer: Optimizer,
    params: PyTree,
    key: jax.Array,
    counts: PyTree,
    learning_rate,
    weight_decay,
    *,
    with_target: bool,
) -> NetState:
    """Masked initial weights, their optimizer state and, if asked, a target copy."""
    params, sparse = method.init(params, key, counts)
    return NetState(
        params=params,
        opt_state=optimizer.init(params, learning_rate, weight_decay),
        sparse=sparse,
        target=params if with_target else None,
    )


def train_net(
    net: NetState, method: SparseMethod, optimizer: Optimizer, grads: PyTree, step
) -> NetState:
    """`net` after one optimizer step with `grads` (step = optimizer steps done, from 1)."""
    params, opt_state, sparse = optimizer.step(
        method, net.params, net.opt_state, net.sparse, grads, step
    )
    return net.replace(params=params, opt_state=opt_state, sparse=sparse)


def sync_net_target(net: NetState, method: SparseMethod, tau) -> NetState:
    """Polyak (tau < 1) or hard (tau = 1) target update under the method's target policy."""
    return net.replace(target=method.sync_target(net.sparse, net.params, net.target, tau))


def weight_counts(
    params: PyTree, masks: PyTree, prefix: str = ""
) -> dict[str, dict[str, jax.Array]]:
    """Traced per-layer counts, keyed `prefix + layer`: `active` connections (mask count, or
    size for a dense layer), `outside`: nonzero weights where the mask is False (0 for an
    online network), `nonzero`: nonzero weights (at most `active` for a target network)."""
    flat_masks = jax.tree.leaves(masks, is_leaf=lambda x: x is None)
    active, outside, nonzero = {}, {}, {}
    for (path, leaf), mask in zip(
        jax.tree_util.tree_flatten_with_path(params)[0], flat_masks, strict=True
    ):
        name = kernel_name(path, leaf)
        if name is None:
            continue
        name = prefix + name
        nonzero[name] = jnp.count_nonzero(leaf).astype(jnp.int32)
        if mask is None:
            active[name] = jnp.asarray(leaf.size, jnp.int32)
            outside[name] = jnp.zeros((), jnp.int32)
        else:
            active[name] = jnp.sum(mask, dtype=jnp.int32)
            outside[name] = jnp.count_nonzero(jnp.where(mask, 0.0, leaf)).astype(jnp.int32)
    return {"active": active, "outside": outside, "nonzero": nonzero}


@dataclasses.dataclass(frozen=True)
class NetworkTrainer:
    """The masked trainer of every agent: the loop's side of the agent contract. Agents call
    `train`, `sync` and `masked_norm` by network name and never see the sparse methods, the
    masks or the optimizer."""

    methods: dict[str, SparseMethod]
    optimizer: Optimizer
    tau: float

    def train(self, nets: dict[str, NetState], name: str, grads: PyTree, step) -> dict:
        """`nets` with network `name` after one optimizer step (its own step count `step`)."""
        return {
            **nets,
            name: train_net(nets[name], self.methods[name], self.optimizer, grads, step),
        }

    def sync(self, nets: dict[str, NetState], names: tuple[str, ...]) -> dict:
        """`nets` with the target networks of `names` Polyak-updated by `tau`."""
        synced = {n: sync_net_target(nets[n], self.methods[n], self.tau) for n in names}
        return {**nets, **synced}

    def masked_norm(self, nets: dict[str, NetState], grads: dict[str, PyTree]) -> jax.Array:
        """The global norm of `grads` ({network: gradients}) inside the networks' masks: the
        norm of what the masked optimizer applies (gradient clipping)."""
        return optax.tree.norm({n: apply_masks(g, nets[n].sparse.masks) for n, g in grads.items()})
