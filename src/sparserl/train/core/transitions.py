"""The replay record of one environment step, the same for every off-policy loop (JAX scan or
host steps): a true terminal state stops bootstrapping, any episode end stops n-step returns."""

from __future__ import annotations

from typing import Any


def replay_transition(obs: Any, action: Any, step: Any) -> dict[str, Any]:
    """{obs, action, reward, next_obs, terminal, episode_end} of `step` (a JAX `Step` or a
    host `HostStep`, batched or not) taken with `action` from `obs`."""
    return {
        "obs": obs,
        "action": action,
        "reward": step.reward,
        "next_obs": step.final_obs,
        "terminal": step.terminated,
        "episode_end": step.terminated | step.truncated,
    }
