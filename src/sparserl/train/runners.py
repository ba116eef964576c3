"""Drive a compiled program chunk by chunk: one `chunk(index) -> metrics` per evaluation
interval, whatever the program (value-based, off-policy on a JAX or on a host environment)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sparserl.envs import HostEnv
from sparserl.train.off_policy_program import OffPolicyProgram, host_transitions
from sparserl.train.point import RunPoint
from sparserl.train.value_program import ValueProgram


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


class OffPolicyJaxRunner:
    """SAC / TD3 on a JAX environment: every chunk is one compiled scan."""

    def __init__(self, program: OffPolicyProgram, points: RunPoint, interval: int):
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


class OffPolicyHostRunner:
    """SAC / TD3 on gymnasium environments stepped by Python, one environment per run; the
    store and the update-and-act of every step are jitted, vmapped calls."""

    def __init__(self, program: OffPolicyProgram, points: RunPoint, interval: int, seeds):
        env: HostEnv = program.env
        self.program, self.interval = program, interval
        self.seeds = [int(s) for s in seeds]
        self.runs = program.compiled_init(points)
        self.vector = env.vector(len(self.seeds))
        self.obs = self.vector.reset(self.seeds)
        # The first actions: "after step -1", without learning (the same compiled call).
        self.runs, self.actions = program.compiled_learn_and_act(self.runs, self.obs, -1, False)
        self.evaluator = env.evaluator(len(self.seeds), program.eval_episodes)
        self.low, self.high = env.action_low, env.action_high
        zeros = np.zeros(len(self.seeds))
        self.episode_return, self.finished_sum, self.finished = zeros.copy(), zeros.copy(), zeros

    def chunk(self, index: int) -> dict:
        program = self.program
        self.finished_sum, self.finished = (
            np.zeros_like(self.finished_sum),
            np.zeros(len(self.seeds)),
        )
        self.advance(index * self.interval, self.interval)
        self.runs, metrics = program.compiled_chunk_metrics(self.runs)
        metrics = jax.device_get(metrics)
        params = program.params_of(self.runs)

        def policy(obs: np.ndarray) -> np.ndarray:
            return np.asarray(program.compiled_greedy(params, obs))

        metrics["eval_return"] = self.evaluator.evaluate(policy, seed=index)
        metrics["train_return"] = self.finished_sum / np.maximum(self.finished, 1)
        metrics["train_episodes"] = self.finished.copy()
        return metrics

    def advance(self, start: int, count: int) -> None:
        """Environment steps start..start+count-1 of every run: act, step, store, learn."""
        program = self.program
        for t in range(start, start + count):
            actions = np.asarray(self.actions)
            step = self.vector.step(self.low + 0.5 * (actions + 1.0) * (self.high - self.low))
            self._record(step)
            self.runs = program.compiled_store(self.runs, host_transitions(self.obs, actions, step))
            learning = t >= program.learning_starts
            self.runs, self.actions = program.compiled_learn_and_act(
                self.runs, step.obs, t, learning
            )
            self.obs = step.obs

    def _record(self, step: Any) -> None:
        ended = step.terminated | step.truncated
        self.episode_return += step.reward
        self.finished_sum += np.where(ended, self.episode_return, 0.0)
        self.finished += ended
        self.episode_return = np.where(ended, 0.0, self.episode_return)

    def close(self) -> None:
        self.vector.close()
        self.evaluator.close()
