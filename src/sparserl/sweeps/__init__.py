"""sparserl.sweeps: sweep specs (YAML) over agents, envs, methods, sparsities, widths and seeds,
expanded into one TrainSpec per compiled program and checked before any run starts; the papers'
designs as presets at a smoke and a full scale."""

from sparserl.sweeps.grid import check, expand, group_id, planned_runs
from sparserl.sweeps.presets import PRESETS, SCALES, load_preset
from sparserl.sweeps.runner import SweepOutcome, run_sweep
from sparserl.sweeps.spec import MethodEntry, SweepSpec, SweepSpecError, load, loads, parse

__all__ = [
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
    "load_preset",
    "loads",
    "parse",
    "planned_runs",
    "run_sweep",
]
