"""Agents by name, built from a preset plus user overrides, checked against the environment."""

from __future__ import annotations

from typing import Any

from sparserl.agents.config import RainbowConfig, ValueConfig
from sparserl.agents.dqn import DQN
from sparserl.agents.errors import AgentConfigError
from sparserl.agents.presets import preset_overrides
from sparserl.agents.rainbow import Rainbow
from sparserl.agents.value_agent import ValueAgent
from sparserl.envs import JaxEnv

AGENTS: dict[str, tuple[type[ValueAgent], type[ValueConfig]]] = {
    "dqn": (DQN, ValueConfig),
    "rainbow": (Rainbow, RainbowConfig),
}


def make_agent(
    name: str, env: JaxEnv, preset: str | None = None, overrides: dict[str, Any] | None = None
) -> ValueAgent:
    """Agent `name` for `env`: its family's preset (or `preset`), then `overrides`."""
    if name not in AGENTS:
        raise AgentConfigError(f"unknown agent {name!r}; choose one of {list(AGENTS)}")
    agent_cls, config_cls = AGENTS[name]
    options = preset_overrides(name, preset or env.spec.family)
    options.update(overrides or {})
    config = config_cls().replace(**options)
    agent = agent_cls(config)
    agent.check_env(env)
    return agent
