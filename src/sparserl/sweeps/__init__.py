"""sparserl.sweeps: sweep specs (YAML) over agents, envs, methods, sparsities, widths and seeds,
expanded into one TrainSpec per compiled program and checked before any run starts; the papers'
designs as presets at a smoke and a full scale, with the post-hoc evaluation a design adds."""

from sparserl.sweeps.grid import check, expand, group_id, planned_runs
from sparserl.sweeps.presets import (
    EVALUATIONS,
    PRESETS,
    SCALES,
    eval_command,
    load_preset,
    preset_evaluation,
)
from sparserl.sweeps.runner import SweepOutcome, run_sweep
from sparserl.sweeps.spec import MethodEntry, SweepSpec, SweepSpecError, load, loads, parse

__all__ = [
    "EVALUATIONS",
    "PRESETS",
    "SCALES",
    "MethodEntry",
    "SweepOutcome",
    "SweepSpec",
    "SweepSpecError",
    "check",
    "expand",
    "group_id",
    "load",
    "eval_command",
    "load_preset",
    "loads",
    "parse",
    "planned_runs",
    "preset_evaluation",
    "run_sweep",
]
