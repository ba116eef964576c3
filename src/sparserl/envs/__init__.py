"""sparserl.envs: one interface over the environments the agents train on.

JAX-native environments (gymnax) step inside the jitted training program; gymnasium ones
(MuJoCo) step on the host (`HostEnv`, `HostVector`). `make_env` checks the id and tells the
agents the observation shape and action space before anything compiles.
"""

from sparserl.envs.errors import EnvConfigError
from sparserl.envs.gymnasium_env import (
    Evaluator,
    HostEnv,
    HostStep,
    HostVector,
    episode_seeds,
    evaluate_host,
)
from sparserl.envs.gymnax_env import JaxEnv, Step
from sparserl.envs.registry import ENVS, EnvSpec, make_env

__all__ = [
    "ENVS",
    "EnvConfigError",
    "EnvSpec",
    "Evaluator",
    "HostEnv",
    "HostStep",
    "HostVector",
    "JaxEnv",
    "Step",
    "episode_seeds",
    "evaluate_host",
    "make_env",
]
