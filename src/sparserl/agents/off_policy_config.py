"""Hyper-parameters of the off-policy actor-critic agents (SAC, TD3), with their sources."""

from __future__ import annotations

import dataclasses

from sparserl.agents.config import AgentConfig, check_gamma, check_ints, check_positive
from sparserl.agents.errors import AgentConfigError


@dataclasses.dataclass(frozen=True)
class OffPolicyConfig(AgentConfig):
    """Shared by SAC and TD3: one gradient step per environment step after a random warm-up."""

    hidden: tuple[int, ...] = (256, 256)  # both papers; Graesser et al. 2022; Sokar et al. 2022
    width: float = 1.0  # multiplier on every hidden layer (Obando-Ceron et al. 2024: x1, x5)
    learning_rate: float = 3e-4  # actor, critic (and SAC's temperature)
    adam_eps: float = 1e-8  # PyTorch / optax default
    weight_decay: float = 0.0
    l2_weight_decay: bool = False  # True: PyTorch Adam's coupled L2 (DS-TD3); False: AdamW
    batch_size: int = 256
    gamma: float = 0.99
    tau: float = 0.005  # Polyak coefficient of the target networks
    replay_capacity: int = 1_000_000
    learning_starts: int = 10_000  # uniformly random actions before the first update

    def __post_init__(self) -> None:
        check_ints(self, 1, "batch_size", "replay_capacity")
        check_ints(self, 0, "learning_starts")
        check_positive(self, "learning_rate", "adam_eps", "width")
        check_gamma(self)
        if not 0.0 < self.tau <= 1.0:
            raise AgentConfigError(f"tau must be in (0, 1], got {self.tau!r}")
        if not self.hidden or any(
            isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in self.hidden
        ):
            raise AgentConfigError(f"hidden must be positive layer sizes, got {self.hidden!r}")


@dataclasses.dataclass(frozen=True)
class SACConfig(OffPolicyConfig):
    """Soft Actor-Critic with automatic temperature (Haarnoja et al. 2018, "SAC algorithms and
    applications", Table 1): Adam 3e-4, batch 256, tau 0.005, 1M replay, 2x256 ReLU, target
    entropy -|A|. The 10k random warm-up steps are TF-Agents' SAC (Graesser et al.'s code)."""

    target_entropy: float | None = None  # None: -action_dim
    initial_alpha: float = 1.0
    log_std_min: float = -20.0  # clip of the actor's log-std (Haarnoja et al.'s code)
    log_std_max: float = 2.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(self, "initial_alpha")
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
    exploration_noise: float = 0.1
    policy_noise: float = 0.2
    noise_clip: float = 0.5
    policy_delay: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ints(self, 1, "policy_delay")
        for name in ("exploration_noise", "policy_noise", "noise_clip"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise AgentConfigError(f"{name} must be a number >= 0, got {value!r}")
