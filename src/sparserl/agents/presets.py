"""Named hyper-parameter sets per agent and environment family, each value with its source.

The config classes' own defaults are Dopamine's Atari settings; a preset changes only what
differs for its family. `preset=None` picks the environment family's preset.
"""

from __future__ import annotations

from typing import Any

from sparserl.agents.errors import AgentConfigError

# Dopamine's classic-control DQN (dqn_cartpole.gin / dqn_acrobot.gin), the base of the
# classic-control DQN of Graesser et al. 2022 (their Sec. 4 and App. tables).
_CLASSIC_CONTROL_DQN: dict[str, Any] = {
    "hidden": (512, 512),
    "learning_rate": 1e-3,
    "adam_eps": 3.125e-4,
    "batch_size": 128,
    "min_replay": 500,
    "target_update_period": 100,
    "replay_capacity": 50_000,
    "epsilon_decay_steps": 1_000,
}

# MinAtar: Dopamine's MinAtar settings of Ceron & Castro 2021 ("Revisiting Rainbow"):
# Adam 1e-4 / eps 3.125e-4, batch 32, update period 4, target 1000, 1000-step warm-up,
# 100k replay, ε to 0.01 over 250k steps.
_MINATAR_DQN: dict[str, Any] = {
    "learning_rate": 1e-4,
    "adam_eps": 3.125e-4,
    "min_replay": 1_000,
    "target_update_period": 1_000,
    "replay_capacity": 100_000,
}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "dqn": {
        "atari": {},
        "classic_control": _CLASSIC_CONTROL_DQN,
        "minatar": _MINATAR_DQN,
    },
    "rainbow": {
        "atari": {},
        # Dopamine's rainbow_cartpole.gin uses the DQN classic-control schedule with n=3 and
        # 51 atoms; its v_max = 10 clips CartPole's returns (up to ~100), so the support is
        # widened to ±100 here (our measurement: v_max 10 plateaus far below 500).
        "classic_control": {**_CLASSIC_CONTROL_DQN, "v_min": -100.0, "v_max": 100.0},
        "minatar": {**_MINATAR_DQN, "v_min": -100.0, "v_max": 100.0},
    },
}


def preset_overrides(agent: str, preset: str) -> dict[str, Any]:
    """The overrides of a named preset; an unknown one is an error listing the valid ones."""
    presets = PRESETS[agent]
    if preset not in presets:
        raise AgentConfigError(
            f"agent {agent!r} has no preset {preset!r}; choose one of {list(presets)}"
        )
    return dict(presets[preset])
