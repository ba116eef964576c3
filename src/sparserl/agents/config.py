"""Agent configs: the base every agent's config extends (`AgentConfig`: checked fields,
`replace` by name) and the value-based agents' hyper-parameters (DQN, Rainbow, IQN, M-IQN),
with the names users override from the CLI. SAC/TD3's are in off_policy_config, PPO's in
ppo_config."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Self

from sparserl.agents.errors import AgentConfigError
from sparserl.nets import TORSOS
from sparserl.validation import (
    at_least,
    below,
    check_fields,
    non_negative,
    one_of,
    option,
    positive,
    unit,
)

# Hyper-parameters that may differ between the runs of one compiled program (vmapped).
SWEEPABLE = ("learning_rate", "weight_decay", "gamma")


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    """Base of every agent config: frozen, replaced by name with a clear error for typos."""

    def __post_init__(self) -> None:
        check_fields(self, AgentConfigError)

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed; unknown names are an error listing the valid ones."""
        valid = [f.name for f in dataclasses.fields(self)]
        unknown = [k for k in changes if k not in valid]
        if unknown:
            raise AgentConfigError(
                f"{type(self).__name__} has no option(s) {unknown}; its options are {valid}"
            )
        return dataclasses.replace(self, **changes)


def check_replay_capacity(config: AgentConfig, warm_up: str) -> None:
    """The replay must hold a batch and every transition collected before learning starts
    (`warm_up`: the field counting those steps)."""
    for other in ("batch_size", warm_up):
        if config.replay_capacity < getattr(config, other):
            raise AgentConfigError(
                f"replay_capacity {config.replay_capacity} must be at least {other} "
                f"({getattr(config, other)})"
            )


@dataclasses.dataclass(frozen=True)
class ValueConfig(AgentConfig):
    """Shared by the value-based agents. Defaults: Dopamine's DQN on Atari (Obando-Ceron et al.
    2024, Table 2); presets override them per environment family."""

    torso: str | None = option(None, one_of(TORSOS))  # None: the environment's default body
    # MLP sizes (None: the torso's default)
    hidden: tuple[int, ...] | None = option(None, at_least(1), nonempty=True)
    width: float = option(1.0, positive)  # multiplier on every layer's units/channels
    dueling: bool = False
    learning_rate: float = option(6.25e-5, positive)  # Table 2
    adam_eps: float = option(1.5e-4, positive)  # Table 2
    # AdamW decoupled decay when > 0 (Graesser et al. 2022 sweep it)
    weight_decay: float = option(0.0, non_negative)
    batch_size: int = option(32, at_least(1))  # Table 2
    gamma: float = option(0.99, unit)  # Table 2
    n_step: int = option(1, at_least(1))  # Table 2 (update horizon)
    double_q: bool = False
    loss: str = option("huber", one_of(("huber", "mse")))  # Table 2: Huber; "mse" also allowed
    # gradient updates per env step = 1 / update period 4 (Table 2)
    replay_ratio: float = option(0.25, positive)
    target_update_period: int = option(8000, at_least(1))  # env steps (Table 2)
    min_replay: int = option(20_000, non_negative)  # env steps before learning starts (Table 2)
    replay_capacity: int = option(1_000_000, at_least(1))  # Dopamine default
    epsilon_train: float = option(0.01, unit)  # Table 2
    epsilon_decay_steps: int = option(250_000, non_negative)  # Table 2
    epsilon_eval: float = option(0.001, unit)  # Table 2
    # DrQ (Kostrikov et al. 2020): random shifts of obs and next_obs of every sampled batch,
    # independent draws, in updates only (agents.augmentation; Dopamine's DrQ(ε) sets it).
    data_augmentation: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_replay_capacity(self, "min_replay")
        self.update_schedule()  # validates the replay ratio

    def update_schedule(self) -> tuple[int, int]:
        """(env steps per iteration, gradient updates per iteration) for the replay ratio."""
        ratio = self.replay_ratio
        if ratio >= 1 and float(ratio).is_integer():
            return 1, int(ratio)
        period = round(1 / ratio)
        if abs(period * ratio - 1) > 1e-9:
            raise AgentConfigError(
                f"replay_ratio {ratio!r} must be an integer or 1/k for an integer k "
                "(e.g. 0.25, 0.5, 1, 2)"
            )
        return period, 1

    def first_learning_iteration(self) -> int:
        """The first iteration (of `update_schedule()[0]` env steps) whose updates run: the
        one that brings the stored transitions to `min_replay`."""
        period, _ = self.update_schedule()
        return max(0, math.ceil(self.min_replay / period) - 1)


@dataclasses.dataclass(frozen=True)
class RainbowConfig(ValueConfig):
    """Dopamine's compact Rainbow: C51 + n-step + prioritized replay (Hessel et al. 2018;
    Obando-Ceron et al. 2024, Sec. 4.1). Atari defaults from Dopamine's rainbow.gin."""

    n_step: int = 3
    learning_rate: float = 6.25e-5
    adam_eps: float = 1.5e-4
    num_atoms: int = option(51, at_least(2))  # Bellemare et al. 2017
    v_min: float = -10.0
    v_max: float = 10.0
    prioritized: bool = True
    # Dopamine: importance weights 1/sqrt(p), max-normalised; Schaul et al. 2016 anneal it
    # within [0, 1]
    priority_exponent_beta: float = option(0.5, unit)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.v_min < self.v_max:
            raise AgentConfigError(f"need v_min < v_max, got {self.v_min!r} and {self.v_max!r}")


@dataclasses.dataclass(frozen=True)
class IQNConfig(ValueConfig):
    """Dopamine's JAX IQN (Dabney et al. 2018) on Atari: implicit_quantile.gin, the settings
    of Obando-Ceron et al. 2024, Table 2. Uniform replay and a* from the target network, as
    Dopamine's agent."""

    learning_rate: float = 5e-5  # Table 2
    adam_eps: float = 3.125e-4  # Table 2
    n_step: int = 3  # Table 2 (update horizon)
    kappa: float = option(1.0, positive)  # Huber threshold κ, Table 2
    num_tau_samples: int = option(64, at_least(1))  # N online fractions in the loss, Table 2
    num_tau_prime_samples: int = option(64, at_least(1))  # N' target fractions, Table 2
    # K fractions averaged into Q-values to act, Table 2
    num_quantile_samples: int = option(32, at_least(1))
    # n cosines (Dabney et al. 2018, eq. 4; Dopamine)
    quantile_embedding_dim: int = option(64, at_least(1))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.loss != "huber":
            raise AgentConfigError(
                f"IQN trains with the quantile Huber loss (set by kappa); loss {self.loss!r} "
                "does not apply, leave it 'huber'"
            )


@dataclasses.dataclass(frozen=True)
class MunchausenIQNConfig(IQNConfig):
    """M-IQN (Vieillard et al. 2020): IQN's settings (Obando-Ceron et al. 2024, Table 2) plus
    the Munchausen terms, defaults of the authors' munchausen_rl m_iqn.py."""

    # τ of π = softmax(q / τ): Table 2 "Tau", m_iqn.py
    entropy_temperature: float = option(0.03, positive)
    munchausen_alpha: float = option(0.9, unit)  # α scaling τ log π(a|s) in the reward: m_iqn.py
    log_policy_clip: float = option(-1.0, below(0))  # l0, τ log π(a|s) clipped to [l0, 0]: m_iqn.py

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.double_q:
            raise AgentConfigError(
                "M-IQN bootstraps with the softmax policy, not a greedy a*; double_q=True "
                "does not apply"
            )
