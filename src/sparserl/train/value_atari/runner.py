"""The runner of value agents on Atari games stepped by Python, one game per run. It meets
the `train.runner.Runner` protocol."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from sparserl.experiment.plan import ONLINE
from sparserl.train.core.host_runner import HostRunner
from sparserl.train.core.networks import NetState
from sparserl.train.core.point import RunPoint
from sparserl.train.value_atari.program import ValueAtariProgram


class ValueAtariRunner(HostRunner):
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
