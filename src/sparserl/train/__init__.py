"""sparserl.train: build the runner of a Plan's loop family (value on JAX envs, value on
Atari, off-policy, on-policy: one subpackage each, holding its program and runner; `core`
for what they share, the network state and the masked trainer every agent learns through)
and train it chunk by chunk, writing every run; each agent family's greedy and evaluation
action rules (shared with `rundir`'s rebuilt policies). Re-exports TrainSpec, resolve and
the Plan from sparserl.experiment."""

from sparserl.experiment import (
    FAMILIES,
    ONLINE,
    Plan,
    RunPlan,
    TrainConfigError,
    TrainSpec,
    agent_budget,
    agent_family,
    grid_points,
    network_budget,
    resolve,
    run_id,
)
from sparserl.train.acting import env_actions, evaluation_actions, greedy_actions, to_action_box
from sparserl.train.core.evaluation import evaluate_episodes
from sparserl.train.core.networks import NetState, NetworkTrainer
from sparserl.train.core.probing import Diagnostics, diagnostics_of, probe_key
from sparserl.train.on_policy.program import RunningStats
from sparserl.train.run import RunResult, final_score, train
from sparserl.train.runner import LOOPS, Loop, Runner, make_program, make_runner, run_points

__all__ = [
    "FAMILIES",
    "ONLINE",
    "Diagnostics",
    "LOOPS",
    "Loop",
    "NetState",
    "NetworkTrainer",
    "Plan",
    "RunPlan",
    "RunResult",
    "RunningStats",
    "Runner",
    "TrainConfigError",
    "TrainSpec",
    "agent_budget",
    "agent_family",
    "diagnostics_of",
    "env_actions",
    "evaluate_episodes",
    "evaluation_actions",
    "final_score",
    "greedy_actions",
    "grid_points",
    "make_program",
    "make_runner",
    "network_budget",
    "probe_key",
    "resolve",
    "run_id",
    "run_points",
    "to_action_box",
    "train",
]
