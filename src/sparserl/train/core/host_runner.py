"""What the runners of host-stepped environments (Atari, gymnasium) share: a chunk is
`advance` over the interval, the chunk's network metrics, a deterministic evaluation, the
training-episode returns and the probe when due; resumed environments reset with fresh seeds."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import jax
import numpy as np

from sparserl.train.core.episodes import HostEpisodeStats
from sparserl.train.core.networks import NetState
from sparserl.train.core.point import RunPoint
from sparserl.train.core.probing import probe_flags, probed_metrics

# Host environments resumed at chunk c reset with seed + c * RESUME_SEED_STRIDE (c = 0 at start).
RESUME_SEED_STRIDE = 1_000_003


class HostRunner:
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
        probe, cosine = probe_flags(program.diagnostics, index)
        if probe:
            self.runs, probed = program.compiled_probe(
                self.runs, *self._probe_data(), probe, cosine
            )
            metrics.update(probed_metrics(jax.device_get(probed), probe, cosine))
        return metrics

    def _probe_data(self) -> tuple:
        """What the program's probe reads besides the runs: nothing (their replay) here, the
        last rollouts for PPO."""
        return ()

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
        return observation_normalizer(self.runs)

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


def observation_normalizer(runs: Any) -> dict[str, Any]:
    """PPO's observation statistics as its greedy policy uses them ({} for other agents)."""
    collection = getattr(runs, "collection", None)
    if collection is None:
        return {}
    return {"obs_mean": collection.obs_stats.mean, "obs_var": collection.obs_stats.var}
