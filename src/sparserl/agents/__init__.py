"""sparserl.agents: value-based agents (DQN, Rainbow) as configs plus per-example losses.

Agents never see the sparse method: the training loop masks, updates topologies and syncs
targets around the agent's loss.
"""

from sparserl.agents.config import SWEEPABLE, RainbowConfig, ValueConfig
from sparserl.agents.dqn import DQN
from sparserl.agents.errors import AgentConfigError
from sparserl.agents.presets import PRESETS
from sparserl.agents.rainbow import Rainbow
from sparserl.agents.registry import AGENTS, make_agent
from sparserl.agents.value_agent import ValueAgent, epsilon_greedy, linearly_decaying_epsilon

__all__ = [
    "AGENTS",
    "DQN",
    "PRESETS",
    "SWEEPABLE",
    "AgentConfigError",
    "Rainbow",
    "RainbowConfig",
    "ValueAgent",
    "ValueConfig",
    "epsilon_greedy",
    "linearly_decaying_epsilon",
    "make_agent",
]
