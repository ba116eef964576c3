"""Drive a compiled program chunk by chunk: one `chunk(index) -> metrics` per evaluation
interval, whatever the program (value-based; off-policy or PPO, on a JAX or a host
environment). Every runner here meets the `runner.Runner` protocol."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sparserl.envs import GymnasiumEnv
from sparserl.train.acting import to_action_box
from sparserl.train.episodes import HostEpisodeStats
from sparserl.train.networks import NetState
from sparserl.train.off_policy_program import OffPolicyProgram
from sparserl.train.on_policy_program import OnPolicyProgram
from sparserl.train.plan import ONLINE
from sparserl.train.point import RunPoint
from sparserl.train.transitions import replay_transition
from sparserl.train.value_host_program import ValueAtariProgram
from sparserl.train.value_program import ValueProgram

# Host environments resumed at chunk c reset with seed + c * RESUME_SEED_STRIDE (c = 0 at start).
RESUME_SEED_STRIDE = 1_000_003


class ValueRunner:
    """Warm-up, mixed and learning-only chunks of a value-based program."""

    def __init__(self, program: ValueProgram, points: RunPoint, interval: int):
        self.program, self.interval = program, interval
        self.period = program.agent.config.update_schedule()[0]
        self.first_learning = program.agent.config.first_learning_iteration()
        self.runs = program.compiled_init(points)

    def chunk(self, index: int) -> dict:
        per_chunk = self.interval // self.period
        start = index * per_chunk
        acting = min(max(self.first_learning - start, 0), per_chunk)
        self.runs, metrics = self.program.compiled_chunk(
            self.runs, jnp.int32(start), acting, per_chunk - acting
        )
        return jax.device_get(metrics)

    def checkpoint(self) -> dict[str, Any]:
        """The device state a checkpoint saves: everything the next chunk depends on."""
        return {"runs": self.runs}

    def evaluation(self) -> dict[str, Any]:
        """What the last evaluation drew from besides the networks: the key ValueProgram's
        `_evaluate` derived from each run's key, as raw key data [R, ...]."""
        keys = jax.vmap(lambda k: jax.random.split(jax.random.fold_in(k, 1))[0])(self.runs.key)
        return {"key": jax.random.key_data(keys)}

    def restore(self, state: dict[str, Any], next_chunk: int) -> None:
        """Continue from a checkpoint's state; the chunks are then exactly those of an
        uninterrupted run."""
        self.runs = state["runs"]

    def networks(self) -> dict[str, NetState]:
        """The runs' one network, batched over runs."""
        return {ONLINE: self.runs.net}

    def close(self) -> None:
        """Nothing to release: the environments live in the compiled program."""


class JaxEnvRunner:
    """SAC / TD3 / PPO on a JAX environment: every chunk is one compiled call."""

    def __init__(
        self, program: OffPolicyProgram | OnPolicyProgram, points: RunPoint, interval: int
    ):
        self.program, self.interval = program, interval
        self.runs = program.compiled_init(points)
        env_keys = jax.vmap(lambda k: jax.random.fold_in(k, 7))(points.key)
        self.envs = program.compiled_init_env(env_keys)

    def chunk(self, index: int) -> dict:
        start = index * self.interval
        acting = min(max(self.program.learning_starts - start, 0), self.interval)
        self.runs, self.envs, metrics = self.program.compiled_jax_chunk(
            self.runs, self.envs, jnp.int32(start), acting, self.interval - acting
        )
        return jax.device_get(metrics)

    def checkpoint(self) -> dict[str, Any]:
        """The device state a checkpoint saves: the runs and their environments."""
        return {"runs": self.runs, "envs": self.envs}

    def evaluation(self) -> dict[str, Any]:
        """What the last evaluation drew from besides the networks: the key of each run's
        evaluation (raw key data [R, ...]) and PPO's observation normaliser."""
        keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(self.envs.key)
        return {"key": jax.random.key_data(keys), **_observation_normalizer(self.runs)}

    def restore(self, state: dict[str, Any], next_chunk: int) -> None:
        """Continue exactly from a checkpoint's state."""
        self.runs, self.envs = state["runs"], state["envs"]

    def networks(self) -> dict[str, NetState]:
        """The runs' networks by name, batched over runs."""
        return dict(self.runs.nets)

    def close(self) -> None:
        """Nothing to release: the environments live in the compiled program."""


class _HostRunner:
    """What both host-environment runners share: a chunk is `advance` over the interval, the
    chunk's network metrics, a deterministic evaluation and the training-episode returns."""

    program: Any
    interval: int
    stats: HostEpisodeStats

    def chunk(self, index: int) -> dict:
        program = self.program
        self.stats.restart()
        self.advance(index * self.interval, self.interval)
        self.runs, metrics = program.compiled_chunk_metrics(self.runs)
        metrics = jax.device_get(metrics)
        metrics["eval_return"] = self.evaluator.evaluate(self._greedy_policy(), seed=index)
        metrics.update(self.stats.chunk_metrics())
        return metrics

    def advance(self, start: int, count: int) -> None:
        raise NotImplementedError

    def _open_one_env_per_run(
        self, program: Any, points: RunPoint, interval: int, seeds: Iterable[int]
    ) -> None:
        """Fresh runs, one reset environment per run, the evaluator and episode statistics
        (the SAC / TD3 and the value runners; PPO's has several envs per run)."""
        self.program, self.interval = program, interval
        self.seeds = [int(s) for s in seeds]
        self.runs = program.compiled_init(points)
        self.vector = program.env.vector(len(self.seeds))
        self.obs = self.vector.reset(self._env_seeds(0))
        self.evaluator = program.env.evaluator(len(self.seeds), program.eval_episodes)
        self.stats = HostEpisodeStats(len(self.seeds))

    def checkpoint(self) -> dict[str, Any]:
        """The device state a checkpoint saves; gymnasium environments cannot be saved."""
        return {"runs": self.runs}

    def networks(self) -> dict[str, NetState]:
        """The runs' networks by name, batched over runs."""
        return dict(self.runs.nets)

    def evaluation(self) -> dict[str, Any]:
        """What the last evaluation used besides the networks and its seed (the chunk index):
        PPO's observation normaliser."""
        return _observation_normalizer(self.runs)

    def restore(self, state: dict[str, Any], next_chunk: int) -> None:
        """Continue from a checkpoint's runs with freshly reset environments: the episodes in
        progress at the checkpoint restart, so a resumed run is not exactly an uninterrupted
        one. The reset seeds depend on `next_chunk`, so the new episodes are not replays."""
        self.runs = state["runs"]
        self.stats = HostEpisodeStats(*self.stats.shape)
        self.obs = self.vector.reset(self._env_seeds(next_chunk))

    def _env_seeds(self, chunk: int) -> list[int]:
        """The seeds of the host environments when chunk `chunk` starts from a reset (one
        environment per run here; PPO's runner has several)."""
        return [seed + RESUME_SEED_STRIDE * chunk for seed in self.seeds]

    def _greedy_policy(self) -> Callable[[np.ndarray], np.ndarray]:
        """The current deterministic policy of every run: obs [R, K, ...] -> actions."""
        raise NotImplementedError

    def close(self) -> None:
        self.vector.close()
        self.evaluator.close()


def _observation_normalizer(runs: Any) -> dict[str, Any]:
    """PPO's observation statistics as its greedy policy uses them ({} for other agents)."""
    collection = getattr(runs, "collection", None)
    if collection is None:
        return {}
    return {"obs_mean": collection.obs_stats.mean, "obs_var": collection.obs_stats.var}


class ValueAtariRunner(_HostRunner):
    """DQN / Rainbow / IQN on Atari games stepped by Python, one game per run: per agent step
    a jitted act and a jitted store on the runs, per iteration of `period` steps (once
    learning has started) a jitted update."""

    def __init__(
        self, program: ValueAtariProgram, points: RunPoint, interval: int, seeds: Iterable[int]
    ):
        self._open_one_env_per_run(program, points, interval, seeds)
        cfg = program.agent.config
        self.period = cfg.update_schedule()[0]
        self.first_learning = cfg.first_learning_iteration()

    def advance(self, start: int, count: int) -> None:
        """Agent steps start..start+count-1 of every run: act, step, store; learn after every
        `period` steps from the first learning iteration on."""
        program = self.program
        for t in range(start, start + count):
            self.runs, actions = program.compiled_act(self.runs, self.obs, t)
            actions = np.asarray(actions)
            step = self.vector.step(actions)
            ended = step.terminated | step.truncated
            self.stats.record(step.reward, ended)  # game returns, over all lives
            # a lost life (terminal_on_life_loss) ends the agent's episode: no bootstrap
            terminal = step.terminated | step.life_lost
            self.runs = program.compiled_store(
                self.runs, self.obs[..., -1], actions, step.reward, terminal, ended | terminal
            )
            self.obs = step.obs
            iteration, phase = divmod(t + 1, self.period)
            if phase == 0 and iteration - 1 >= self.first_learning:
                self.runs = program.compiled_learn(self.runs, iteration - 1)

    def restore(self, state: dict[str, Any], next_chunk: int) -> None:
        super().restore(state, next_chunk)
        self.runs = self.program.compiled_end_episodes(self.runs)

    def networks(self) -> dict[str, NetState]:
        return {ONLINE: self.runs.net}

    def _greedy_policy(self) -> Callable[[np.ndarray], np.ndarray]:
        """Evaluation actions, ε-greedy at `epsilon_eval` (0.001 on Atari, Table 2), with keys
        from each run's own key and a count of the policy's calls."""
        program, params, keys = self.program, self.runs.net.params, self.runs.key
        calls = iter(range(1 << 62))

        def policy(obs: np.ndarray) -> np.ndarray:
            return np.asarray(program.compiled_eval_actions(params, obs, keys, next(calls)))

        return policy


class OffPolicyHostRunner(_HostRunner):
    """SAC / TD3 on gymnasium environments stepped by Python, one environment per run; the
    store and the update-and-act of every step are jitted, vmapped calls."""

    def __init__(
        self, program: OffPolicyProgram, points: RunPoint, interval: int, seeds: Iterable[int]
    ):
        self._open_one_env_per_run(program, points, interval, seeds)
        # The first actions: "after step -1", without learning (the same compiled call).
        self.runs, self.actions = program.compiled_learn_and_act(self.runs, self.obs, -1, False)
        env: GymnasiumEnv = program.env
        self.low, self.high = env.action_low, env.action_high

    def _greedy_policy(self) -> Callable[[np.ndarray], np.ndarray]:
        program, params = self.program, self.program.params_of(self.runs)
        return lambda obs: np.asarray(program.compiled_greedy(params, obs))

    def restore(self, state: dict[str, Any], next_chunk: int) -> None:
        super().restore(state, next_chunk)
        self.runs, self.actions = self.program.compiled_learn_and_act(
            self.runs, self.obs, -1, False
        )

    def advance(self, start: int, count: int) -> None:
        """Environment steps start..start+count-1 of every run: act, step, store, learn."""
        program = self.program
        for t in range(start, start + count):
            actions = np.asarray(self.actions)
            step = self.vector.step(to_action_box(actions, self.low, self.high))
            transition = replay_transition(self.obs, actions, step)
            self.stats.record(step.reward, transition["episode_end"])
            self.runs = program.compiled_store(self.runs, transition)
            learning = t >= program.learning_starts
            self.runs, self.actions = program.compiled_learn_and_act(
                self.runs, step.obs, t, learning
            )
            self.obs = step.obs


def env_seeds(seeds: Sequence[int], num_envs: int) -> list[int]:
    """Distinct env seeds, run-major: `seed * num_envs + i` for env i of a run, so runs that
    share a seed (other sparsity levels) share their environments' episodes."""
    return [seed * num_envs + i for seed in seeds for i in range(num_envs)]


class OnPolicyHostRunner(_HostRunner):
    """PPO on gymnasium environments stepped by Python: the `num_envs` environments of every
    run in one host vector, run-major; per step one jitted act and one jitted record call on
    the runs' collections (the rollout stays on the device), per rollout one jitted update."""

    def __init__(
        self, program: OnPolicyProgram, points: RunPoint, interval: int, seeds: Iterable[int]
    ):
        env: GymnasiumEnv = program.env
        program.check_rollouts("interval", interval)
        self.program, self.interval = program, interval
        self.seeds = [int(s) for s in seeds]
        runs, num_envs = len(self.seeds), program.agent.config.num_envs
        self.shape = (runs, num_envs)  # the leading axes of the programs' env arrays
        self.runs = program.compiled_init(points)
        self.rollout = program.empty_rollout(runs)
        self.vector = env.vector(runs * num_envs)
        self.obs = self.vector.reset(self._env_seeds(0))
        self.evaluator = env.evaluator(runs, program.eval_episodes)
        self.stats = HostEpisodeStats(runs, num_envs)

    def _greedy_policy(self) -> Callable[[np.ndarray], np.ndarray]:
        # observations normalised with each run's statistics as they are now
        program, params = self.program, self.program.params_of(self.runs)
        obs_stats = self.runs.collection.obs_stats
        return lambda obs: np.asarray(program.compiled_greedy(params, obs_stats, obs))

    def advance(self, start: int, count: int) -> None:
        """Environment steps start..start+count-1 of every run (counting all its envs; whole
        rollouts): collect each rollout, then learn from it."""
        program = self.program
        program.check_rollouts("start", start)
        program.check_rollouts("count", count)
        size, num_steps = program.rollout_size, program.agent.config.num_steps
        for iteration in range(start // size, (start + count) // size):
            cols, actor = self.runs.collection, self.runs.nets["actor"].params
            for t in range(num_steps):
                cols, self.rollout, actions = program.compiled_host_act(
                    cols, actor, self.rollout, t, self._split(self.obs)
                )
                step = self.vector.step(np.asarray(actions).reshape(-1, *program.env.action_shape))
                self.stats.record(step.reward, step.terminated | step.truncated)
                outcome = (step.reward, step.terminated, step.truncated, step.final_obs)
                cols, self.rollout = program.compiled_host_record(
                    cols, self.runs.gamma, self.rollout, t, *map(self._split, outcome)
                )
                self.obs = step.obs
            self.runs = self.runs.replace(collection=cols)
            self.runs = program.compiled_learn(self.runs, self.rollout, iteration)

    def _env_seeds(self, chunk: int) -> list[int]:
        seeds = [seed + RESUME_SEED_STRIDE * chunk for seed in self.seeds]
        return env_seeds(seeds, self.shape[1])

    def _split(self, x: np.ndarray) -> np.ndarray:
        """`[runs * num_envs, ...]` -> `[runs, num_envs, ...]`."""
        return x.reshape(*self.shape, *x.shape[1:])
