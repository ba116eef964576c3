"""sparserl.rundir: the run-directory format (one schema for every file name, column and
field), its atomic writer, its checked readers, the networks a run saves, and the policies
and evaluations rebuilt from them."""

import importlib

from sparserl.rundir.atomic import OutputError, atomic_file, remove_file, write_csv, write_json
from sparserl.rundir.files import RunFileError
from sparserl.rundir.schema import FORMAT_VERSION, FormatVersionError
from sparserl.rundir.status import RunRecord, RunStatus, inspect_run

# Saved networks and policies need JAX (policies also the agents and environments); readers of
# results do not, so these load on first use.
_LAZY = {
    "NetworksFileError": "networks",
    "SavedNetworks": "networks",
    "load_networks": "networks",
    "save_networks": "networks",
    "saved_steps": "networks",
    "load_gradient_cosines": "cosines",
    "save_gradient_cosines": "cosines",
    "LoadedRun": "policy",
    "evaluate": "policy",
    "evaluate_run": "policy",
    "evaluation_observations": "policy",
    "load_policy": "policy",
    "load_run": "policy",
}


def __getattr__(name: str):
    if name in _LAZY:
        module = importlib.import_module(f"sparserl.rundir.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'sparserl.rundir' has no attribute {name!r}")


__all__ = [
    *_LAZY,
    "FORMAT_VERSION",
    "FormatVersionError",
    "OutputError",
    "RunFileError",
    "RunRecord",
    "RunStatus",
    "atomic_file",
    "inspect_run",
    "remove_file",
    "write_csv",
    "write_json",
]
