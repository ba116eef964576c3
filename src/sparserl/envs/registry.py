"""The environments sparserl knows, by the ids users type, and how to build each one."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from sparserl.envs.atari import AtariEnv
from sparserl.envs.atari_games import ATARI_60, ale_env_id
from sparserl.envs.errors import EnvConfigError
from sparserl.envs.gymnasium_env import GymnasiumEnv
from sparserl.envs.gymnax_env import JaxEnv


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """What an environment id stands for: its backend and id there, family and default network."""

    env_id: str
    backend_id: str
    family: str  # classic_control | minatar | mujoco | atari: selects presets and the default torso
    torso: str  # the network body used for it by default
    # (low, high) box the Q-network rescales observations from, to [-1, 1]
    obs_bounds: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    # factor on observations before the network: 1/255 for Atari's uint8 frames (Dopamine)
    input_scale: float = 1.0
    # gymnax: JAX-native, stepped inside the jitted program (JaxEnv);
    # gymnasium: stepped on the host in Python (GymnasiumEnv), e.g. MuJoCo;
    # ale: Atari games stepped on the host with Dopamine's preprocessing (AtariEnv).
    backend: str = "gymnax"


# Observation boxes of Dopamine's classic-control networks (gym_lib.*_MIN_VALS / _MAX_VALS).
_CARTPOLE_BOUNDS = (
    (-2.4, -5.0, -math.pi / 12, -math.pi * 2),
    (2.4, 5.0, math.pi / 12, math.pi * 2),
)
_ACROBOT_BOUNDS = ((-1.0, -1.0, -1.0, -1.0, -5.0, -5.0), (1.0, 1.0, 1.0, 1.0, 5.0, 5.0))
_MOUNTAINCAR_BOUNDS = ((-1.2, -0.07), (0.6, 0.07))

ENVS: dict[str, EnvSpec] = {
    spec.env_id: spec
    for spec in (
        EnvSpec("CartPole-v1", "CartPole-v1", "classic_control", "mlp", _CARTPOLE_BOUNDS),
        EnvSpec("Acrobot-v1", "Acrobot-v1", "classic_control", "mlp", _ACROBOT_BOUNDS),
        EnvSpec("MountainCar-v0", "MountainCar-v0", "classic_control", "mlp", _MOUNTAINCAR_BOUNDS),
        EnvSpec("Pendulum-v1", "Pendulum-v1", "classic_control", "mlp"),
        EnvSpec("MountainCarContinuous-v0", "MountainCarContinuous-v0", "classic_control", "mlp"),
        # MinAtar (Young & Tian 2019) through gymnax: 10x10xC binary frames.
        EnvSpec("Breakout-MinAtar", "Breakout-MinAtar", "minatar", "minatar_cnn"),
        EnvSpec("Asterix-MinAtar", "Asterix-MinAtar", "minatar", "minatar_cnn"),
        EnvSpec("Freeway-MinAtar", "Freeway-MinAtar", "minatar", "minatar_cnn"),
        EnvSpec("SpaceInvaders-MinAtar", "SpaceInvaders-MinAtar", "minatar", "minatar_cnn"),
        # MuJoCo locomotion through gymnasium, stepped on the host: continuous actions.
        *(
            EnvSpec(name, name, "mujoco", "mlp", backend="gymnasium")
            for name in ("HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Ant-v5", "Humanoid-v5")
        ),
        # Atari through the ALE, by gymnasium id ("ALE/Pong-v5"): Dopamine's 60 games, which hold
        # the 15 of Graesser et al. 2022 and the 26 of Atari 100k (envs.atari_games).
        *(
            EnvSpec(
                ale_env_id(game),
                ale_env_id(game),
                "atari",
                "nature_cnn",
                input_scale=1 / 255,
                backend="ale",
            )
            for game in ATARI_60
        ),
    )
}


# Protocol settings a user may change per environment kind, e.g. Atari 100k plays without
# sticky actions (Obando-Ceron et al. 2024, Table 1).
ENV_OPTIONS: dict[type, tuple[str, ...]] = {
    AtariEnv: ("repeat_action_probability", "max_episode_steps", "terminal_on_life_loss"),
}


def make_env(
    env_id: str, options: dict[str, Any] | None = None
) -> JaxEnv | GymnasiumEnv | AtariEnv:
    """The environment for `env_id`: a JaxEnv (gymnax), a GymnasiumEnv (gymnasium) or an AtariEnv
    (ale) by its backend, with `options` (ENV_OPTIONS) changed; an unknown id or option is an
    error listing the known ones."""
    spec = ENVS.get(env_id)
    if spec is None:
        raise EnvConfigError(f"unknown environment {env_id!r}; choose one of {list(ENVS)}")
    if spec.backend == "gymnasium":
        env = GymnasiumEnv.from_gymnasium(spec)
    elif spec.backend == "ale":
        env = AtariEnv.from_spec(spec)
    else:
        env = JaxEnv.from_gymnax(spec)
    return with_options(env, options or {})


def with_options(env: Any, options: dict[str, Any]) -> Any:
    """`env` with some protocol settings changed; the environment checks their values."""
    allowed = ENV_OPTIONS.get(type(env), ())
    unknown = [name for name in options if name not in allowed]
    if unknown:
        raise EnvConfigError(
            f"{env.env_id} has no option(s) {unknown}; its options are {list(allowed)}"
        )
    return dataclasses.replace(env, **options) if options else env
