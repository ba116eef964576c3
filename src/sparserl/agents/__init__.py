"""sparserl.agents: value-based agents (DQN, Rainbow, IQN, M-IQN) as configs plus per-example
losses, and actor-critic agents (SAC, TD3, PPO) as configs plus an update over named networks.

Agents never see the sparse method: the training loop masks, updates topologies and syncs
targets around the agent's losses.
"""

from sparserl.agents.augmentation import drq_augmentation, random_intensity, random_shift
from sparserl.agents.config import (
    SWEEPABLE,
    IQNConfig,
    MunchausenIQNConfig,
    RainbowConfig,
    ValueConfig,
)
from sparserl.agents.dqn import DQN
from sparserl.agents.errors import AgentConfigError
from sparserl.agents.iqn import IQN, MunchausenIQN
from sparserl.agents.off_policy import OffPolicyAgent
from sparserl.agents.off_policy_config import OffPolicyConfig, SACConfig, TD3Config
from sparserl.agents.ppo import PPO
from sparserl.agents.ppo_config import PPOConfig
from sparserl.agents.presets import PRESETS, env_preset, method_preset
from sparserl.agents.rainbow import Rainbow
from sparserl.agents.registry import (
    ACTOR_CRITIC,
    AGENTS,
    agent_config,
    default_preset,
    make_agent,
)
from sparserl.agents.sac import SAC
from sparserl.agents.td3 import TD3
from sparserl.agents.value_agent import ValueAgent, epsilon_greedy, linearly_decaying_epsilon

__all__ = [
    "ACTOR_CRITIC",
    "AGENTS",
    "DQN",
    "IQN",
    "IQNConfig",
    "MunchausenIQN",
    "MunchausenIQNConfig",
    "OffPolicyAgent",
    "OffPolicyConfig",
    "PPO",
    "PPOConfig",
    "PRESETS",
    "SWEEPABLE",
    "AgentConfigError",
    "Rainbow",
    "RainbowConfig",
    "SAC",
    "SACConfig",
    "TD3",
    "TD3Config",
    "ValueAgent",
    "ValueConfig",
    "agent_config",
    "default_preset",
    "drq_augmentation",
    "env_preset",
    "epsilon_greedy",
    "linearly_decaying_epsilon",
    "make_agent",
    "method_preset",
    "random_intensity",
    "random_shift",
]
