"""sparserl.envs: one interface over the environments the agents train on.

JAX-native environments (gymnax) step inside the jitted training program; gymnasium ones
(MuJoCo) step on the host (`GymnasiumEnv`, `GymnasiumVector`), and so do Atari games,
preprocessed as Dopamine does (`AtariEnv`, `AtariVector`, `FrameStack`). "Host" means stepped
in Python on the CPU, for either kind. `make_env` checks the id and tells the agents the
observation shape and action space before anything compiles.
"""

from sparserl.envs.atari import (
    AreaResize,
    AtariEnv,
    AtariEvaluator,
    AtariStep,
    AtariVector,
    FrameStack,
    add_pixel_noise,
    area_weights,
    clip_reward,
)
from sparserl.envs.atari_games import ATARI_60, ATARI_100K, GAME_LISTS, GRAESSER_15, ale_env_id
from sparserl.envs.errors import EnvConfigError
from sparserl.envs.gymnasium_env import (
    Evaluator,
    GymnasiumEnv,
    GymnasiumVector,
    HostStep,
    episode_seeds,
    evaluate_host,
)
from sparserl.envs.gymnax_env import JaxEnv, Step
from sparserl.envs.registry import ENVS, EnvSpec, make_env

__all__ = [
    "ATARI_100K",
    "ATARI_60",
    "AreaResize",
    "AtariEnv",
    "AtariEvaluator",
    "AtariStep",
    "AtariVector",
    "ENVS",
    "EnvConfigError",
    "EnvSpec",
    "Evaluator",
    "FrameStack",
    "GAME_LISTS",
    "GRAESSER_15",
    "GymnasiumEnv",
    "HostStep",
    "GymnasiumVector",
    "JaxEnv",
    "Step",
    "add_pixel_noise",
    "ale_env_id",
    "area_weights",
    "clip_reward",
    "episode_seeds",
    "evaluate_host",
    "make_env",
]
