"""Hyper-parameters of the value-based agents, with the names users override from the CLI."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Self

from sparserl.agents.errors import AgentConfigError
from sparserl.nets import TORSOS

# Hyper-parameters that may differ between the runs of one compiled program (vmapped).
SWEEPABLE = ("learning_rate", "weight_decay", "gamma")


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    """Base of every agent config: frozen, replaced by name with a clear error for typos."""

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed; unknown names are an error listing the valid ones."""
        valid = [f.name for f in dataclasses.fields(self)]
        unknown = [k for k in changes if k not in valid]
        if unknown:
            raise AgentConfigError(
                f"{type(self).__name__} has no option(s) {unknown}; its options are {valid}"
            )
        return dataclasses.replace(self, **changes)


def check_ints(config: AgentConfig, low: int, *names: str) -> None:
    """Each named field must be an integer >= `low`."""
    for name in names:
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise AgentConfigError(f"{name} must be an integer >= {low}, got {value!r}")


def check_positive(config: AgentConfig, *names: str) -> None:
    """Each named field must be a number > 0."""
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise AgentConfigError(f"{name} must be a number > 0, got {value!r}")


def check_gamma(config: AgentConfig) -> None:
    if not 0.0 <= config.gamma <= 1.0:
        raise AgentConfigError(f"gamma must be in [0, 1], got {config.gamma!r}")


@dataclasses.dataclass(frozen=True)
class ValueConfig(AgentConfig):
    """Shared by the value-based agents. Defaults: Dopamine's DQN on Atari (Obando-Ceron et al.
    2024, Table 2); presets override them per environment family."""

    torso: str | None = None  # None: the environment's default network body
    hidden: tuple[int, ...] | None = None  # MLP sizes (None: the torso's default)
    width: float = 1.0  # multiplier on every layer's units/channels
    dueling: bool = False
    learning_rate: float = 6.25e-5  # Table 2
    adam_eps: float = 1.5e-4  # Table 2
    weight_decay: float = 0.0  # AdamW decoupled decay when > 0 (Graesser et al. 2022 sweep it)
    batch_size: int = 32  # Table 2
    gamma: float = 0.99  # Table 2
    n_step: int = 1  # Table 2 (update horizon)
    double_q: bool = False
    loss: str = "huber"  # Table 2: Huber; "mse" also allowed
    replay_ratio: float = 0.25  # gradient updates per env step = 1 / update period 4 (Table 2)
    target_update_period: int = 8000  # env steps (Table 2)
    min_replay: int = 20_000  # env steps before learning starts (Table 2)
    replay_capacity: int = 1_000_000  # Dopamine default
    epsilon_train: float = 0.01  # Table 2
    epsilon_decay_steps: int = 250_000  # Table 2
    epsilon_eval: float = 0.001  # Table 2
    # DrQ (Kostrikov et al. 2020): random shifts of obs and next_obs of every sampled batch,
    # independent draws, in updates only (agents.augmentation; Dopamine's DrQ(ε) sets it).
    data_augmentation: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.data_augmentation, bool):
            raise AgentConfigError(
                f"data_augmentation must be True or False, got {self.data_augmentation!r}"
            )
        check_ints(self, 1, "batch_size", "n_step", "target_update_period", "replay_capacity")
        check_ints(self, 0, "min_replay", "epsilon_decay_steps")
        check_positive(self, "learning_rate", "adam_eps", "width", "replay_ratio")
        check_gamma(self)
        if self.torso is not None and self.torso not in TORSOS:
            raise AgentConfigError(f"unknown torso {self.torso!r}; choose one of {list(TORSOS)}")
        if self.loss not in ("huber", "mse"):
            raise AgentConfigError(f"unknown loss {self.loss!r}; choose one of ['huber', 'mse']")
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
    num_atoms: int = 51  # Bellemare et al. 2017
    v_min: float = -10.0
    v_max: float = 10.0
    prioritized: bool = True
    priority_exponent_beta: float = 0.5  # Dopamine: importance weights 1/sqrt(p), max-normalised

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_atoms < 2:
            raise AgentConfigError(f"num_atoms must be >= 2, got {self.num_atoms!r}")
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
    kappa: float = 1.0  # Huber threshold κ, Table 2
    num_tau_samples: int = 64  # N online fractions in the loss, Table 2
    num_tau_prime_samples: int = 64  # N' target fractions in the loss, Table 2
    num_quantile_samples: int = 32  # K fractions averaged into Q-values to act, Table 2
    quantile_embedding_dim: int = 64  # n cosines (Dabney et al. 2018, eq. 4; Dopamine)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(self, "kappa")
        check_ints(
            self,
            1,
            "num_tau_samples",
            "num_tau_prime_samples",
            "num_quantile_samples",
            "quantile_embedding_dim",
        )
        if self.loss != "huber":
            raise AgentConfigError(
                f"IQN trains with the quantile Huber loss (set by kappa); loss {self.loss!r} "
                "does not apply, leave it 'huber'"
            )


@dataclasses.dataclass(frozen=True)
class MunchausenIQNConfig(IQNConfig):
    """M-IQN (Vieillard et al. 2020): IQN's settings (Obando-Ceron et al. 2024, Table 2) plus
    the Munchausen terms, defaults of the authors' munchausen_rl m_iqn.py."""

    entropy_temperature: float = 0.03  # τ of π = softmax(q / τ): Table 2 "Tau", m_iqn.py
    munchausen_alpha: float = 0.9  # α scaling τ log π(a|s) in the reward: m_iqn.py
    log_policy_clip: float = -1.0  # l0, τ log π(a|s) clipped to [l0, 0]: m_iqn.py

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(self, "entropy_temperature")
        if not 0.0 <= self.munchausen_alpha <= 1.0:
            raise AgentConfigError(
                f"munchausen_alpha must be in [0, 1], got {self.munchausen_alpha!r}"
            )
        if not self.log_policy_clip < 0:
            raise AgentConfigError(f"log_policy_clip must be < 0, got {self.log_policy_clip!r}")
        if self.double_q:
            raise AgentConfigError(
                "M-IQN bootstraps with the softmax policy, not a greedy a*; double_q=True "
                "does not apply"
            )
