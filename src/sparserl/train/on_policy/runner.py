"""The runner of PPO on gymnasium environments stepped by Python, `num_envs` environments per
run. It meets the `train.runner.Runner` protocol."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from sparserl.envs import GymnasiumEnv
from sparserl.train.core.episodes import HostEpisodeStats
from sparserl.train.core.host_runner import RESUME_SEED_STRIDE, HostRunner
from sparserl.train.core.point import RunPoint
from sparserl.train.on_policy.program import OnPolicyProgram


def env_seeds(seeds: Sequence[int], num_envs: int) -> list[int]:
    """Distinct env seeds, run-major: `seed * num_envs + i` for env i of a run, so runs that
    share a seed (other sparsity levels) share their environments' episodes."""
    return [seed * num_envs + i for seed in seeds for i in range(num_envs)]


class OnPolicyHostRunner(HostRunner):
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

    def _probe_data(self) -> tuple:
        """The last rollouts: the probe's batch comes from them."""
        return (self.rollout,)

    def _env_seeds(self, chunk: int) -> list[int]:
        seeds = [seed + RESUME_SEED_STRIDE * chunk for seed in self.seeds]
        return env_seeds(seeds, self.shape[1])

    def _split(self, x: np.ndarray) -> np.ndarray:
        """`[runs * num_envs, ...]` -> `[runs, num_envs, ...]`."""
        return x.reshape(*self.shape, *x.shape[1:])
