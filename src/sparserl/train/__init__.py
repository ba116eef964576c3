"""sparserl.train: the jitted, vmapped training loop of value-based agents and its runs."""

from sparserl.train.accounting import agent_budget, network_budget
from sparserl.train.errors import TrainConfigError
from sparserl.train.run import (
    RunResult,
    actor_critic_program,
    final_score,
    train,
    value_param_shapes,
    value_points,
    value_runner,
)
from sparserl.train.runners import OffPolicyHostRunner
from sparserl.train.spec import TrainSpec, resolve
from sparserl.train.value_program import ValueProgram

__all__ = [
    "OffPolicyHostRunner",
    "RunResult",
    "TrainConfigError",
    "TrainSpec",
    "ValueProgram",
    "actor_critic_program",
    "agent_budget",
    "final_score",
    "network_budget",
    "resolve",
    "train",
    "value_param_shapes",
    "value_points",
    "value_runner",
]
