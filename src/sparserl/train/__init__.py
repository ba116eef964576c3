"""sparserl.train: resolve a TrainSpec into a Plan (every run of its grid decided once), build
the runner of the plan's loop family (value on JAX envs, value on Atari, off-policy,
on-policy) and train it chunk by chunk, writing every run; the network state and the masked
trainer every agent learns through."""

from sparserl.train.accounting import agent_budget, network_budget
from sparserl.train.errors import TrainConfigError
from sparserl.train.grid import grid_points, run_id
from sparserl.train.networks import NetState, NetworkTrainer
from sparserl.train.plan import FAMILIES, ONLINE, Plan, RunPlan
from sparserl.train.run import RunResult, final_score, train
from sparserl.train.runner import LOOPS, Loop, Runner, make_program, make_runner, run_points
from sparserl.train.spec import TrainSpec, agent_family, resolve

__all__ = [
    "FAMILIES",
    "ONLINE",
    "LOOPS",
    "Loop",
    "NetState",
    "NetworkTrainer",
    "Plan",
    "RunPlan",
    "RunResult",
    "Runner",
    "TrainConfigError",
    "TrainSpec",
    "agent_budget",
    "agent_family",
    "final_score",
    "grid_points",
    "make_program",
    "make_runner",
    "network_budget",
    "resolve",
    "run_id",
    "run_points",
    "train",
]
