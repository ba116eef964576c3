"""A finished run's policy and evaluation rebuilt from its directory: the environment and the
agent from config.json (through the public envs and agents API), the networks from its saved
networks file with their masks applied. The evaluation is the training loop's: same episode
loop, same action rule (ε-greedy at epsilon_eval for value agents) and the saved key."""

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

from sparserl.agents import PPO, OffPolicyAgent, ValueAgent, epsilon_greedy, make_agent
from sparserl.envs import JaxEnv, make_env
from sparserl.rundir.files import read_config
from sparserl.rundir.networks import SavedNetworks, load_networks
from sparserl.rundir.schema import CONFIG
from sparserl.train.evaluation import evaluate as evaluate_episodes
from sparserl.train.off_policy_program import to_action_box
from sparserl.train.on_policy_program import RunningStats
from sparserl.types import PyTree

GREEDY_KEY_SEED = 0  # see _greedy_key


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


def greedy_actions(agent: Any, env: Any, params: dict[str, PyTree], obs_stats, obs: jax.Array):
    """The deterministic policy's environment actions for a batch of observations, as the
    training loop computes them (`obs_stats`: PPO's observation normaliser, else None)."""
    if isinstance(agent, ValueAgent):
        q = agent.q_values(agent.network(env).apply, params["online"], obs, _greedy_key())
        return jnp.argmax(q, axis=-1)
    if isinstance(agent, PPO):
        cfg = agent.config
        if cfg.normalize_observations:
            obs = obs_stats.normalize(obs, cfg.normalize_clip)
        action = agent.greedy(params, obs)
        if agent.discrete:
            return action
        return jnp.clip(action, jnp.asarray(env.action_low), jnp.asarray(env.action_high))
    low, high = jnp.asarray(env.action_low), jnp.asarray(env.action_high)
    return to_action_box(agent.greedy(params, obs), low, high)


def evaluation_actions(agent: Any, env: Any, params, obs_stats, obs: jax.Array, key: jax.Array):
    """The actions of the training loop's evaluation: ε-greedy at epsilon_eval (one key per
    observation, the last for the Q-values) for value agents, else `greedy_actions`."""
    if not isinstance(agent, ValueAgent):
        return greedy_actions(agent, env, params, obs_stats, obs)
    keys = jax.random.split(key, obs.shape[0] + 1)
    q = agent.q_values(agent.network(env).apply, params["online"], obs, keys[-1])
    return jax.vmap(epsilon_greedy, in_axes=(0, 0, None))(keys[:-1], q, agent.config.epsilon_eval)


def _greedy_key() -> jax.Array:
    """The key of the value agents' greedy policy: only agents that sample their Q-values
    (IQN's quantile fractions) use it."""
    return jax.random.key(GREEDY_KEY_SEED)


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
