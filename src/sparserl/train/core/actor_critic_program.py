"""What the off-policy (SAC, TD3) and on-policy (PPO) programs share: the run's identity
(agent, environment, one sparse method per network, run length), the optimizer, fresh
networks for one run, and the jitted, vmapped entry points the runners call."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from sparserl.analysis.probe import ProbedNetwork
from sparserl.sparsity import SparseMethod
from sparserl.train.core.chunk_metrics import chunk_metrics
from sparserl.train.core.networks import NetState, Optimizer, init_net
from sparserl.train.core.point import RunPoint
from sparserl.train.core.probing import Diagnostics, probe_if, probe_key
from sparserl.types import PyTree


@dataclasses.dataclass(frozen=True)
class ActorCriticProgram:
    """The compiled pieces for one (agent, env, per-network methods, run length); subclasses
    define `init_run`, `init_env`, `jax_chunk` and `probe_runs`."""

    agent: Any
    env: Any  # JaxEnv or GymnasiumEnv
    methods: tuple[tuple[str, SparseMethod], ...]  # (network name, method), hashable
    eval_episodes: int
    steps: int
    diagnostics: Diagnostics | None = None  # the in-loop probe, or None (off)

    @property
    def method_of(self) -> dict[str, SparseMethod]:
        return dict(self.methods)

    @functools.cached_property
    def optimizer(self) -> Optimizer:
        cfg = self.agent.config
        return Optimizer(cfg.adam_eps, l2=cfg.l2_weight_decay)

    def init_nets(
        self, params: dict[str, PyTree], sparse_key: jax.Array, point: RunPoint
    ) -> dict[str, NetState]:
        """Every network of one run masked by its own method, with its optimizer, and a target
        copy for those in the agent's `target_networks`."""
        methods, nets = self.method_of, {}
        for i, (name, p) in enumerate(params.items()):
            nets[name] = init_net(
                methods[name],
                self.optimizer,
                p,
                jax.random.fold_in(sparse_key, i),
                point.counts[name],
                point.learning_rate,
                point.weight_decay,
                with_target=name in self.agent.target_networks,
            )
        return nets

    def params_of(self, run: Any) -> dict[str, PyTree]:
        return {name: net.params for name, net in run.nets.items()}

    def probed_masks(self, nets: dict[str, NetState]) -> dict[str, PyTree] | None:
        """What a fresh run's `probed_masks` holds: its initial masks (None without probes)."""
        if self.diagnostics is None:
            return None
        return {name: net.sparse.masks for name, net in nets.items()}

    def probe_with(
        self,
        run: Any,
        extra: PyTree,
        draw: Callable[[jax.Array], dict],
        probe: jax.Array,
        cosine: jax.Array,
    ) -> tuple[Any, dict]:
        """One run's probe of every network (see `train.core.probing.probe_if`) on the batch
        `draw(key)` gives, through the agent's hooks: `probe_batch`, `network_inputs`,
        `per_example_losses` (each network differentiates its own), `value_estimates`."""
        agent, params = self.agent, self.params_of(run)
        targets = {n: net.target for n, net in run.nets.items() if net.target is not None}
        sample_key, batch_key = jax.random.split(probe_key(run.key))

        def describe():
            batch = agent.probe_batch(params, targets, extra, draw(sample_key), batch_key)
            inputs, values = agent.network_inputs(batch), agent.value_estimates(params, batch)

            def loss_of(name: str):
                def loss(own: PyTree, example: dict) -> jax.Array:
                    return jnp.mean(agent.per_example_losses({**params, name: own}, example)[name])

                return loss

            networks = {
                name: ProbedNetwork(
                    agent.networks[name],
                    params[name],
                    net.sparse.masks,
                    inputs[name],
                    loss_of(name),
                    values.get(name),
                )
                for name, net in run.nets.items()
            }
            return networks, batch

        metrics, masks = probe_if(probe, cosine, describe, run.probed_masks)
        return run.replace(probed_masks=masks), metrics

    def init_run(self, point: RunPoint) -> Any:
        raise NotImplementedError

    def init_env(self, runs_key: jax.Array) -> Any:
        raise NotImplementedError

    def jax_chunk(self, runs, envs, start, steps: int, probe, cosine):
        raise NotImplementedError

    def probe_runs(self, runs, *args):
        raise NotImplementedError

    @functools.cached_property
    def compiled_init(self):
        return jax.jit(jax.vmap(self.init_run))

    @functools.cached_property
    def compiled_init_env(self):
        return jax.jit(jax.vmap(self.init_env))

    @functools.cached_property
    def compiled_jax_chunk(self):
        return jax.jit(self.jax_chunk, static_argnums=(3,), donate_argnums=(0, 1))

    @functools.cached_property
    def compiled_probe(self):
        """(runs, [rollouts,] probe, cosine) -> (runs, probe metrics): host runners' probe."""
        return jax.jit(self.probe_runs, donate_argnums=(0,))

    @functools.cached_property
    def compiled_chunk_metrics(self):
        return jax.jit(chunk_metrics, donate_argnums=(0,))
