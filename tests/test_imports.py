"""Import hygiene: the sparsity engine and the agents load no simulator and nothing above
them in the layers, so they stay usable (and quick to import) on their own."""

import json
import subprocess
import sys

SIMULATORS = ("mujoco", "ale_py", "gymnax", "gymnasium.envs.mujoco")


def _loaded_after(statement: str, names: tuple[str, ...]) -> list[str]:
    """The modules of `names` in sys.modules after `statement`, in a fresh interpreter."""
    found = f"[n for n in {names!r} if n in sys.modules]"
    code = f"import json, sys\n{statement}\nprint(json.dumps({found}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def test_agents_and_sparsity_load_no_simulator():
    above = ("sparserl.envs", "sparserl.experiment", "sparserl.train", "sparserl.sweeps")
    above += ("sparserl.report",)
    assert _loaded_after("import sparserl.agents, sparserl.sparsity", SIMULATORS + above) == []


def test_sparsity_loads_no_agent():
    assert _loaded_after("import sparserl.sparsity", ("sparserl.agents", "sparserl.nets")) == []


def test_experiment_loads_no_training_loop():
    # train imports experiment (TrainSpec, resolve, Plan), never the other way round
    assert _loaded_after("import sparserl.experiment", ("sparserl.train",)) == []


def test_analysis_loads_no_simulator_and_no_training_loop():
    above = ("sparserl.envs", "sparserl.experiment", "sparserl.train", "sparserl.sweeps")
    assert _loaded_after("import sparserl.analysis", SIMULATORS + above) == []
