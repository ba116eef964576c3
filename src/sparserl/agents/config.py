"""The base of every agent config (frozen; options replaced by name, with a one-line error for
typos) and what every agent family shares: the sweepable hyper-parameters, the replay check."""

from __future__ import annotations

import dataclasses
from typing import Any, Self

from sparserl.agents.errors import AgentConfigError
from sparserl.validation import check_fields

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
