"""A finished run's policy and evaluation rebuilt from its directory: the environment and the
agent from config.json (through the public envs and agents API), the networks from its saved
networks file with their masks applied. The evaluation is the training loop's: same episode
loop, same action rules (`sparserl.train`'s greedy_actions and evaluation_actions, shared with
the loops), the saved key on JAX environments and the evaluation's seed on host ones.

Post-hoc analyses (`sparserl.analysis`) evaluate through `evaluate_run` with a perturbation
of the observations the policy receives, and read fresh evaluation observations through
`evaluation_observations`; both draw their randomness from keys folded out of the
evaluation's own, never from its stream, so the noise-free evaluation is unchanged."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sparserl.agents import PPO, OffPolicyAgent, ValueAgent, make_agent
from sparserl.envs import AtariEnv, JaxEnv, episode_seeds, make_env
from sparserl.rundir.files import read_config
from sparserl.rundir.networks import SavedNetworks, load_networks
from sparserl.rundir.schema import CONFIG
from sparserl.train import RunningStats, evaluate_episodes, evaluation_actions, greedy_actions
from sparserl.types import PyTree

# A change of the observations the policy receives: (obs batch [K, ...], key) -> obs batch,
# traceable by JAX; a pytree (e.g. a flax.struct dataclass) so that its arrays are arguments
# of the compiled evaluation, not constants baked into it.
Perturbation = Callable[[jax.Array, jax.Array], jax.Array]

# fold_in tags of the keys drawn beside an evaluation's own stream (which only splits)
PERTURBATION_STREAM = 1_000_001
OBSERVATION_STREAM = 1_000_002
# Host runs stand in for the run's key, which the value Atari loop does not save (the
# ε-greedy draws of its evaluations), with jax.random.key(seed) folded with this tag.
HOST_KEY_STREAM = 1_000_003
# What ValueAtariProgram folds its run key with for its evaluation actions (then the call).
ATARI_EVALUATION_FOLD = 1


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

    @property
    def evaluation_seed(self) -> int:
        """The seed of the evaluation the networks were saved at on a host environment: the
        index of its chunk (the loop evaluates chunk c with seed c)."""
        return self.saved.step // self.config["eval_interval"] - 1

    @property
    def evaluation_key(self) -> jax.Array:
        """The key of the evaluation the networks were saved at: the saved one on a JAX
        environment; on a host environment, one derived from the run's seed and
        `evaluation_seed` (the host loops save none)."""
        if "key" in self.saved.evaluation:
            return jax.random.wrap_key_data(jnp.asarray(self.saved.evaluation["key"]))
        seeded = jax.random.fold_in(jax.random.key(self.config["seed"]), HOST_KEY_STREAM)
        return jax.random.fold_in(seeded, self.evaluation_seed)


@functools.cache
def _compiled_policy(agent: Any, env: Any) -> Callable:
    return jax.jit(functools.partial(greedy_actions, agent, env))


@functools.cache
def _compiled_evaluation(agent: Any, env: JaxEnv, episodes: int) -> Callable:
    """Evaluations of a batch of runs, vmapped as the training loop evaluates its runs; the
    perturbation (or None) is shared by the runs."""

    def one_run(params, obs_stats, key, perturb):
        def act(obs, act_key):
            if perturb is not None:
                obs = perturb(obs, jax.random.fold_in(act_key, PERTURBATION_STREAM))
            return evaluation_actions(agent, env, params, obs_stats, obs, act_key)

        return evaluate_episodes(env, act, key, episodes)

    return jax.jit(jax.vmap(one_run, in_axes=(0, 0, 0, None)))


@functools.cache
def _compiled_host_actions(agent: Any, env: Any) -> Callable:
    """The host loops' evaluation actions, batched over runs as they call them: params,
    normaliser, obs [R, K, ...] and keys [R] -> actions [R, K, ...] (the key is only drawn
    from by ε-greedy value agents)."""
    return jax.jit(jax.vmap(functools.partial(evaluation_actions, agent, env)))


@jax.jit
def _perturbed(perturb: Perturbation, obs: jax.Array, key: jax.Array) -> jax.Array:
    return perturb(obs, key)


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
    loop's evaluation code: the final evaluation's (or that at `step`), with the run's
    eval_episodes unless `episodes` says otherwise. Exactly the run's own on JAX environments
    (the saved key) and, for deterministic policies, on gymnasium ones (the evaluation's
    seed); on Atari the ε-greedy draws differ (see `LoadedRun.evaluation_key`)."""
    return evaluate_run(load_run(run_dir, step), episodes)


def evaluate_run(
    run: LoadedRun,
    episodes: int | None = None,
    perturb: Perturbation | None = None,
    frame_noise: float = 0.0,
) -> float:
    """The evaluation return of a loaded run (see `evaluate`), optionally with `perturb`
    applied to every observation batch the policy receives (JAX and gymnasium environments;
    its keys are folded out of the evaluation's with PERTURBATION_STREAM) or, on Atari, with
    `frame_noise`: the standard deviation of the evaluator's pixel noise on each new frame
    (`envs.add_pixel_noise`, drawn from the evaluation's seed)."""
    episodes = run.config["eval_episodes"] if episodes is None else episodes
    if frame_noise and not isinstance(run.env, AtariEnv):
        raise ValueError(f"frame_noise is for Atari frames; {run.config['env']} has none")
    if isinstance(run.env, JaxEnv):
        one = jax.tree.map(
            lambda x: jnp.asarray(x)[None], (run.params, run.obs_stats, run.evaluation_key)
        )
        compiled = _compiled_evaluation(run.agent, run.env, episodes)
        return float(compiled(*one, perturb)[0])
    if isinstance(run.env, AtariEnv) and perturb is not None:
        raise ValueError("Atari observations are perturbed per frame: use frame_noise")
    policy = _host_policy(run, perturb)
    with run.env.evaluator(1, episodes) as evaluator:
        noise = {"noise_sigma": frame_noise} if frame_noise else {}
        return float(evaluator.evaluate(policy, run.evaluation_seed, **noise)[0])


def _host_policy(run: LoadedRun, perturb: Perturbation | None) -> Callable:
    """The host loops' evaluation policy of one run, obs [1, K, ...] -> actions: ε-greedy
    keys as ValueAtariProgram draws them (its run key folded with 1, then the call count)."""
    act = _compiled_host_actions(run.agent, run.env)
    batched = jax.tree.map(lambda x: jnp.asarray(x)[None], (run.params, run.obs_stats))
    key = run.evaluation_key
    acting = jax.random.fold_in(key, ATARI_EVALUATION_FOLD)
    noise = jax.random.fold_in(key, PERTURBATION_STREAM)
    calls = itertools.count()

    def policy(obs: np.ndarray) -> np.ndarray:
        call = next(calls)
        if perturb is not None:
            obs = _perturbed(perturb, obs[0], jax.random.fold_in(noise, call))[None]
        keys = jax.random.fold_in(acting, call)[None]
        return np.asarray(act(*batched, jnp.asarray(obs), keys))

    return policy


def evaluation_observations(run: LoadedRun, count: int, envs: int, steps: int) -> np.ndarray:
    """`count` observations [count, ...] the evaluation policy meets (noise-free, as the
    environment gives them, before any normalisation): `envs` environments from a reset, each
    stepped `steps` times (auto-resetting), every stride-th step kept so that the `count`
    spread over the episodes' first `steps` steps rather than their starts. Keys are folded
    out of the evaluation key; host environments start from the evaluation's seeds."""
    stride = max(1, steps * envs // count)
    if isinstance(run.env, JaxEnv):
        collect = _compiled_observations(run.agent, run.env, envs, steps)
        key = jax.random.fold_in(run.evaluation_key, OBSERVATION_STREAM)
        observed = np.asarray(collect(run.params, run.obs_stats, key))
        kept = observed[::stride].reshape(-1, *observed.shape[2:])
    else:
        kept = _host_observations(run, envs, steps, stride)
    if len(kept) < count:
        raise ValueError(
            f"{envs} envs x {steps} steps give {len(kept)} observations, fewer than {count}"
        )
    return kept[:count]


@functools.cache
def _compiled_observations(agent: Any, env: JaxEnv, envs: int, steps: int) -> Callable:
    """(params, normaliser, key) -> the observations [steps, envs, ...] the evaluation policy
    meets, stepping `envs` auto-resetting environments side by side."""

    def collect(params, obs_stats, key):
        reset_key, key = jax.random.split(key)
        obs, state = jax.vmap(env.reset)(jax.random.split(reset_key, envs))

        def body(carry, _):
            key, obs, state = carry
            key, act_key, step_key = jax.random.split(key, 3)
            actions = evaluation_actions(agent, env, params, obs_stats, obs, act_key)
            step = jax.vmap(env.step)(jax.random.split(step_key, envs), state, actions)
            return (key, step.obs, step.state), obs

        return jax.lax.scan(body, (key, obs, state), length=steps)[1]

    return jax.jit(collect)


def _host_observations(run: LoadedRun, envs: int, steps: int, stride: int) -> np.ndarray:
    """Every stride-th observation of `envs` host environments (from the evaluation's seeds)
    stepped `steps` times by the evaluation policy, time-major."""
    policy = _host_policy(run, None)
    kept = []
    with run.env.vector(envs) as vector:
        obs = vector.reset(episode_seeds(run.evaluation_seed, 1, envs).ravel())
        for t in range(steps):
            if t % stride == 0:
                kept.append(obs.copy())
            actions = policy(obs[None])[0]
            obs = vector.step(actions).obs
    return np.concatenate(kept)


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
