"""Agents by name, built from a preset plus user overrides, checked against the environment."""

from __future__ import annotations

from typing import Any

from sparserl.agents.config import (
    AgentConfig,
    IQNConfig,
    MunchausenIQNConfig,
    RainbowConfig,
    ValueConfig,
)
from sparserl.agents.dqn import DQN
from sparserl.agents.errors import AgentConfigError
from sparserl.agents.iqn import IQN, MunchausenIQN
from sparserl.agents.off_policy import OffPolicyAgent
from sparserl.agents.off_policy_config import SACConfig, TD3Config
from sparserl.agents.ppo import PPO
from sparserl.agents.ppo_config import PPOConfig
from sparserl.agents.presets import PRESETS, preset_overrides
from sparserl.agents.rainbow import Rainbow
from sparserl.agents.sac import SAC
from sparserl.agents.td3 import TD3
from sparserl.agents.value_agent import ValueAgent

AGENTS: dict[str, tuple[type, type[AgentConfig]]] = {
    "dqn": (DQN, ValueConfig),
    "rainbow": (Rainbow, RainbowConfig),
    "iqn": (IQN, IQNConfig),
    "m-iqn": (MunchausenIQN, MunchausenIQNConfig),
    "sac": (SAC, SACConfig),
    "td3": (TD3, TD3Config),
    "ppo": (PPO, PPOConfig),
}

# Agents with an actor and a critic, each with its own sparse method.
ACTOR_CRITIC = (OffPolicyAgent, PPO)


def default_preset(name: str, env: Any) -> str:
    """The preset an agent uses on `env` unless one is named: the environment id's own
    preset if the agent has one, else the environment family's."""
    return _preset_for(name, env.spec)


def _preset_for(name: str, env_spec: Any) -> str:
    return env_spec.env_id if env_spec.env_id in PRESETS[name] else env_spec.family


def agent_config(
    name: str, env_spec: Any, preset: str | None = None, overrides: dict[str, Any] | None = None
) -> AgentConfig:
    """The config of agent `name` on the environment `env_spec` (an envs.EnvSpec) without
    building it: its default preset (or `preset`), then `overrides`, every value checked."""
    if name not in AGENTS:
        raise AgentConfigError(f"unknown agent {name!r}; choose one of {list(AGENTS)}")
    options = preset_overrides(name, preset or _preset_for(name, env_spec))
    options.update(overrides or {})
    return AGENTS[name][1]().replace(**options)


def make_agent(
    name: str, env: Any, preset: str | None = None, overrides: dict[str, Any] | None = None
) -> ValueAgent | OffPolicyAgent | PPO:
    """Agent `name` for `env`: its default preset (or `preset`), then `overrides`."""
    if name not in AGENTS:
        raise AgentConfigError(f"unknown agent {name!r}; choose one of {list(AGENTS)}")
    agent_cls = AGENTS[name][0]
    agent_cls.check_env(env)  # before the config: the wrong kind of env is the first error
    config = agent_config(name, env.spec, preset, overrides)
    if issubclass(agent_cls, ACTOR_CRITIC):
        return agent_cls.for_env(config, env)
    return agent_cls(config)
