"""sparserl.train: resolve a TrainSpec into a Plan (every run of its grid decided once), build
the runner of the plan's loop family (value on JAX envs, value on Atari, off-policy,
on-policy) and train it chunk by chunk, writing every run; the network state and the masked
trainer every agent learns through; each agent family's greedy and evaluation action rules
(shared with `rundir`'s rebuilt policies)."""

from sparserl.train.accounting import agent_budget, network_budget
from sparserl.train.acting import env_actions, evaluation_actions, greedy_actions, to_action_box
from sparserl.train.errors import TrainConfigError
from sparserl.train.evaluation import evaluate_episodes
from sparserl.train.grid import grid_points, run_id
from sparserl.train.networks import NetState, NetworkTrainer
from sparserl.train.on_policy_program import RunningStats
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
    "RunningStats",
    "Runner",
    "TrainConfigError",
    "TrainSpec",
    "agent_budget",
    "agent_family",
    "env_actions",
    "evaluate_episodes",
    "evaluation_actions",
    "final_score",
    "greedy_actions",
    "grid_points",
    "make_program",
    "make_runner",
    "network_budget",
    "resolve",
    "run_id",
    "run_points",
    "to_action_box",
    "train",
]
