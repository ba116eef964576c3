"""A finished run's policy and evaluation rebuilt from its directory: the environment and the
agent from config.json (through the public envs and agents API), the networks from its saved
networks file with their masks applied. The evaluation is the training loop's: same episode
loop, same action rules (`sparserl.train`'s greedy_actions and evaluation_actions, shared with
the loops) and the saved key."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sparserl.agents import PPO, OffPolicyAgent, ValueAgent, make_agent
from sparserl.envs import JaxEnv, make_env
from sparserl.rundir.files import read_config
from sparserl.rundir.networks import SavedNetworks, load_networks
from sparserl.rundir.schema import CONFIG
from sparserl.train import RunningStats, evaluate_episodes, evaluation_actions, greedy_actions
from sparserl.types import PyTree


@dataclasses.dataclass(frozen=True)
class LoadedRun:
    """A run rebuilt from its directory: its config, environment, agent, saved networks and
    each network's params with its mask applied."""

    config: dict[str, Any]
    env: Any
    agent: Any
    saved: SavedNetworks
    params: dict[str, PyTree]

    @property
    def obs_stats(self) -> RunningStats | None:
        """PPO's observation normaliser as the policy saw it (None for other agents)."""
        used = self.saved.evaluation
        if "obs_mean" not in used:
            return None
        return RunningStats(used["obs_mean"], used["obs_var"], np.zeros((), np.float32))


@functools.cache
def _compiled_policy(agent: Any, env: Any) -> Callable:
    return jax.jit(functools.partial(greedy_actions, agent, env))


@functools.cache
def _compiled_evaluation(agent: Any, env: JaxEnv, episodes: int) -> Callable:
    """Evaluations of a batch of runs, vmapped as the training loop evaluates its runs."""

    def one_run(params, obs_stats, key):
        act = functools.partial(evaluation_actions, agent, env, params, obs_stats)
        return evaluate_episodes(env, act, key, episodes)

    return jax.jit(jax.vmap(one_run))


def load_run(run_dir: str | Path, step: int | None = None) -> LoadedRun:
    """The run in `run_dir` rebuilt with its final networks (or those saved at `step`)."""
    run_dir = Path(run_dir)
    config = read_config(run_dir / CONFIG)
    saved = load_networks(run_dir, step)
    env, agent = _env_and_agent(
        config["env"],
        json.dumps(config.get("env_options") or {}, sort_keys=True),
        config["agent"],
        config.get("preset"),
        json.dumps(config.get("agent_config") or {}, sort_keys=True),
    )
    if not isinstance(agent, (ValueAgent, OffPolicyAgent, PPO)):
        raise TypeError(f"cannot rebuild the policy of agent {config['agent']!r}")
    params = {
        name: _masked(fields["params"], fields.get("masks", {}))
        for name, fields in saved.networks.items()
    }
    return LoadedRun(config, env, agent, saved, params)


def load_policy(run_dir: str | Path, step: int | None = None) -> Callable[[Any], np.ndarray]:
    """The greedy / deterministic policy of the run in `run_dir` (its final networks, or those
    saved at `step`): one observation -> the environment action (argmax Q for value agents,
    the agent's own greedy action for IQN, SAC's scaled tanh(mean), TD3's actor, PPO's
    argmax logits or mean)."""
    run = load_run(run_dir, step)
    act = _compiled_policy(run.agent, run.env)

    def policy(obs: Any) -> np.ndarray:
        return np.asarray(act(run.params, run.obs_stats, jnp.asarray(obs)[None])[0])

    return policy


def evaluate(run_dir: str | Path, step: int | None = None, episodes: int | None = None) -> float:
    """The run's evaluation return re-computed from its saved networks with the training
    loop's evaluation code and key: the final evaluation's (or that at `step`), exactly, with
    the run's eval_episodes unless `episodes` says otherwise. JAX environments only."""
    run = load_run(run_dir, step)
    if not isinstance(run.env, JaxEnv):
        raise ValueError(
            f"evaluate re-runs evaluations on JAX environments only; {run.config['env']} is "
            f"stepped on the host (use load_policy with its evaluator)"
        )
    episodes = run.config["eval_episodes"] if episodes is None else episodes
    key = jax.random.wrap_key_data(jnp.asarray(run.saved.evaluation["key"]))
    one = jax.tree.map(lambda x: jnp.asarray(x)[None], (run.params, run.obs_stats, key))
    return float(_compiled_evaluation(run.agent, run.env, episodes)(*one)[0])


@functools.cache
def _env_and_agent(
    env_id: str, env_options: str, agent: str, preset: str | None, agent_config: str
) -> tuple[Any, Any]:
    """The environment and agent of a config (options as JSON text): built once per config,
    so that runs of one sweep share their compiled policies and evaluations."""
    env = make_env(env_id, json.loads(env_options))
    options = {k: _tuples(v) for k, v in json.loads(agent_config).items()}
    return env, make_agent(agent, env, preset, options)


def _masked(params: PyTree, masks: PyTree) -> PyTree:
    """`params` with zeros where a saved mask is False (leaves without a mask stay dense)."""
    if not isinstance(params, dict):
        return np.where(masks, params, np.zeros_like(params))
    return {k: _masked(v, masks[k]) if k in masks else v for k, v in params.items()}


def _tuples(value: Any) -> Any:
    """JSON lists back to the tuples the configs hold."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value
