"""The runner of SAC / TD3 on gymnasium environments stepped by Python, one environment per
run. It meets the `train.runner.Runner` protocol."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from sparserl.envs import GymnasiumEnv
from sparserl.train.acting import to_action_box
from sparserl.train.core.host_runner import HostRunner
from sparserl.train.core.point import RunPoint
from sparserl.train.core.transitions import replay_transition
from sparserl.train.off_policy.program import OffPolicyProgram


class OffPolicyHostRunner(HostRunner):
    """SAC / TD3 on gymnasium environments stepped by Python, one environment per run; the
    store and the update-and-act of every step are jitted, vmapped calls."""

    def __init__(
        self, program: OffPolicyProgram, points: RunPoint, interval: int, seeds: Iterable[int]
    ):
        self._open_one_env_per_run(program, points, interval, seeds)
        # The first actions: "after step -1", without learning (the same compiled call).
        self.runs, self.actions = program.compiled_learn_and_act(self.runs, self.obs, -1)
        env: GymnasiumEnv = program.env
        self.low, self.high = env.action_low, env.action_high

    def _greedy_policy(self) -> Callable[[np.ndarray], np.ndarray]:
        program, params = self.program, self.program.params_of(self.runs)
        return lambda obs: np.asarray(program.compiled_greedy(params, obs))

    def restore(self, state: dict[str, Any], next_chunk: int) -> None:
        super().restore(state, next_chunk)
        self.runs, self.actions = self.program.compiled_learn_and_act(self.runs, self.obs, -1)

    def advance(self, start: int, count: int) -> None:
        """Environment steps start..start+count-1 of every run: act, step, store, learn."""
        program = self.program
        for t in range(start, start + count):
            actions = np.asarray(self.actions)
            step = self.vector.step(to_action_box(actions, self.low, self.high))
            transition = replay_transition(self.obs, actions, step)
            self.stats.record(step.reward, transition["episode_end"])
            self.runs = program.compiled_store(self.runs, transition)
            self.runs, self.actions = program.compiled_learn_and_act(self.runs, step.obs, t)
            self.obs = step.obs
