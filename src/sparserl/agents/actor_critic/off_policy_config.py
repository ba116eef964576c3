"""Hyper-parameters of the off-policy actor-critic agents (SAC, TD3), with their sources."""

from __future__ import annotations

import dataclasses

from sparserl.agents.config import AgentConfig, check_replay_capacity
from sparserl.agents.errors import AgentConfigError
from sparserl.validation import Range, at_least, non_negative, option, positive, unit


@dataclasses.dataclass(frozen=True)
class OffPolicyConfig(AgentConfig):
    """Shared by SAC and TD3: one gradient step per environment step after a random warm-up."""

    # both papers; Graesser et al. 2022; Sokar et al. 2022
    hidden: tuple[int, ...] = option((256, 256), at_least(1), nonempty=True)
    # multiplier on every hidden layer (Obando-Ceron et al. 2024: x1, x5)
    width: float = option(1.0, positive)
    learning_rate: float = option(3e-4, positive)  # actor, critic (and SAC's temperature)
    adam_eps: float = option(1e-8, positive)  # PyTorch / optax default
    weight_decay: float = option(0.0, non_negative)
    l2_weight_decay: bool = False  # True: PyTorch Adam's coupled L2 (DS-TD3); False: AdamW
    batch_size: int = option(256, at_least(1))
    gamma: float = option(0.99, unit)
    tau: float = option(0.005, Range(0, 1, low_open=True))  # Polyak coefficient of the targets
    replay_capacity: int = option(1_000_000, at_least(1))
    # uniformly random actions before the first update
    learning_starts: int = option(10_000, non_negative)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_replay_capacity(self, "learning_starts")


@dataclasses.dataclass(frozen=True)
class SACConfig(OffPolicyConfig):
    """Soft Actor-Critic with automatic temperature (Haarnoja et al. 2018, "SAC algorithms and
    applications", Table 1): Adam 3e-4, batch 256, tau 0.005, 1M replay, 2x256 ReLU, target
    entropy -|A|. The 10k random warm-up steps are TF-Agents' SAC (Graesser et al.'s code)."""

    target_entropy: float | None = None  # None: -action_dim
    initial_alpha: float = option(1.0, positive)
    log_std_min: float = -20.0  # clip of the actor's log-std (Haarnoja et al.'s code)
    log_std_max: float = 2.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.log_std_min < self.log_std_max:
            raise AgentConfigError(
                f"need log_std_min < log_std_max, got {self.log_std_min!r}, {self.log_std_max!r}"
            )


@dataclasses.dataclass(frozen=True)
class TD3Config(OffPolicyConfig):
    """TD3 (Fujimoto et al. 2018) as in the authors' published code: 2x256 ReLU, Adam 3e-4,
    batch 256, 25k random steps, exploration N(0, 0.1), target smoothing N(0, 0.2) clipped to
    +-0.5, actor and targets updated every 2 critic updates, tau 0.005."""

    learning_starts: int = 25_000
    exploration_noise: float = option(0.1, non_negative)
    policy_noise: float = option(0.2, non_negative)
    noise_clip: float = option(0.5, non_negative)
    policy_delay: int = option(2, at_least(1))
