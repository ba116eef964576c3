"""sparserl.agents: value-based agents (DQN, Rainbow, IQN, M-IQN) as configs plus per-example
losses, and actor-critic agents (SAC, TD3, PPO) as configs plus an update over named networks;
their presets, and the registry (`register_agent`) through which each of them, and any agent
a user writes, becomes known by name.

Agents never see the sparse method: the training loop masks, updates topologies and syncs
targets around the agent's losses. Importing this package loads no simulator.
"""

# The built-in agents register themselves when their modules load, in this order (the order
# of AGENTS and of every message listing agents).
# isort: off
from sparserl.agents.value import dqn, rainbow, iqn  # noqa: F401
from sparserl.agents.actor_critic import sac, td3, ppo  # noqa: F401
# isort: on

from sparserl.agents.actor_critic.off_policy import OffPolicyAgent
from sparserl.agents.actor_critic.off_policy_config import OffPolicyConfig, SACConfig, TD3Config
from sparserl.agents.actor_critic.ppo import PPO
from sparserl.agents.actor_critic.ppo_config import PPOConfig
from sparserl.agents.actor_critic.sac import SAC
from sparserl.agents.actor_critic.td3 import TD3
from sparserl.agents.config import SWEEPABLE, AgentConfig
from sparserl.agents.errors import AgentConfigError
from sparserl.agents.registry import (
    AGENTS,
    FAMILIES,
    AgentEntry,
    agent_config,
    agent_entry,
    default_preset,
    env_preset,
    make_agent,
    method_preset,
    register_agent,
    unregister_agent,
)
from sparserl.agents.value.augmentation import drq_augmentation, random_intensity, random_shift
from sparserl.agents.value.config import (
    IQNConfig,
    MunchausenIQNConfig,
    RainbowConfig,
    ValueConfig,
)
from sparserl.agents.value.dqn import DQN
from sparserl.agents.value.iqn import IQN, MunchausenIQN
from sparserl.agents.value.rainbow import Rainbow
from sparserl.agents.value.value_agent import ValueAgent, epsilon_greedy, linearly_decaying_epsilon

__all__ = [
    "AGENTS",
    "DQN",
    "FAMILIES",
    "IQN",
    "AgentConfig",
    "AgentConfigError",
    "AgentEntry",
    "IQNConfig",
    "MunchausenIQN",
    "MunchausenIQNConfig",
    "OffPolicyAgent",
    "OffPolicyConfig",
    "PPO",
    "PPOConfig",
    "SWEEPABLE",
    "Rainbow",
    "RainbowConfig",
    "SAC",
    "SACConfig",
    "TD3",
    "TD3Config",
    "ValueAgent",
    "ValueConfig",
    "agent_config",
    "agent_entry",
    "default_preset",
    "drq_augmentation",
    "env_preset",
    "epsilon_greedy",
    "linearly_decaying_epsilon",
    "make_agent",
    "method_preset",
    "random_intensity",
    "random_shift",
    "register_agent",
    "unregister_agent",
]
