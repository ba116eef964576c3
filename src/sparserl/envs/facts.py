"""What agents and the training loop need to know about any environment, whichever backend
steps it (gymnax inside the jitted program, gymnasium on the host)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sparserl.envs.registry import EnvSpec


def bound_array(value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """An action bound (scalar or array) as a read-only float32 array of `shape`."""
    array = np.array(np.broadcast_to(np.asarray(value, np.float32), shape))
    array.setflags(write=False)
    return array


def action_bounds(space: Any, discrete: bool, shape: tuple[int, ...]) -> dict[str, Any]:
    """`action_low` / `action_high` of an action space with `.low` / `.high` (None if discrete)."""
    if discrete:
        return {"action_low": None, "action_high": None}
    return {
        "action_low": bound_array(space.low, shape),
        "action_high": bound_array(space.high, shape),
    }


@dataclasses.dataclass(frozen=True)
class EnvFacts:
    """Shapes, action kind and bounds and episode limit of an environment id."""

    spec: EnvSpec
    obs_shape: tuple[int, ...]
    num_actions: int | None  # None for continuous actions
    action_shape: tuple[int, ...]
    max_episode_steps: int
    # float32 arrays of `action_shape` bounding continuous actions; None for discrete ones.
    # Left out of ==/hash (they follow from the spec), so the env stays hashable.
    action_low: np.ndarray | None = dataclasses.field(default=None, compare=False)
    action_high: np.ndarray | None = dataclasses.field(default=None, compare=False)

    @property
    def env_id(self) -> str:
        return self.spec.env_id

    @property
    def discrete(self) -> bool:
        return self.num_actions is not None
