"""sparserl.experiment: what a training invocation asks for (TrainSpec) and its resolution,
decided once (`resolve` -> Plan: every grid point's agent config, per-network sparse methods,
counts and budgets); the one grid expansion that training and sweeps share."""

from sparserl.experiment.accounting import agent_budget, network_budget
from sparserl.experiment.errors import TrainConfigError
from sparserl.experiment.grid import GridPoint, grid_points, run_id
from sparserl.experiment.plan import FAMILIES, ONLINE, Plan, RunPlan
from sparserl.experiment.spec import GRID_OPTIONS, TrainSpec, agent_family, resolve

__all__ = [
    "FAMILIES",
    "GRID_OPTIONS",
    "ONLINE",
    "GridPoint",
    "Plan",
    "RunPlan",
    "TrainConfigError",
    "TrainSpec",
    "agent_budget",
    "agent_family",
    "grid_points",
    "network_budget",
    "resolve",
    "run_id",
]
