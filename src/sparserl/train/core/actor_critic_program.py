"""What the off-policy (SAC, TD3) and on-policy (PPO) programs share: the run's identity
(agent, environment, one sparse method per network, run length), the optimizer, fresh
networks for one run, and the jitted, vmapped entry points the runners call."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax

from sparserl.sparsity import SparseMethod
from sparserl.train.core.chunk_metrics import chunk_metrics
from sparserl.train.core.networks import NetState, Optimizer, init_net
from sparserl.train.core.point import RunPoint
from sparserl.types import PyTree


@dataclasses.dataclass(frozen=True)
class ActorCriticProgram:
    """The compiled pieces for one (agent, env, per-network methods, run length); subclasses
    define `init_run`, `init_env` and `jax_chunk`."""

    agent: Any
    env: Any  # JaxEnv or GymnasiumEnv
    methods: tuple[tuple[str, SparseMethod], ...]  # (network name, method), hashable
    eval_episodes: int
    steps: int

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

    def init_run(self, point: RunPoint) -> Any:
        raise NotImplementedError

    def init_env(self, runs_key: jax.Array) -> Any:
        raise NotImplementedError

    def jax_chunk(self, runs, envs, start, steps: int):
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
    def compiled_chunk_metrics(self):
        return jax.jit(chunk_metrics, donate_argnums=(0,))
