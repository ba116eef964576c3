"""sparserl.train: the jitted, vmapped training loop of value-based agents and its runs."""

from sparserl.train.errors import TrainConfigError
from sparserl.train.run import RunResult, final_score, train
from sparserl.train.spec import TrainSpec, resolve
from sparserl.train.value_program import ValueProgram

__all__ = [
    "RunResult",
    "TrainConfigError",
    "TrainSpec",
    "ValueProgram",
    "final_score",
    "resolve",
    "train",
]
