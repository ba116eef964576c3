"""sparserl.rundir: the run-directory format (one schema for every file name, column and
field), its atomic writer, its checked readers, the networks a run saves, and the policies
and evaluations rebuilt from them."""

from sparserl.rundir.atomic import OutputError, atomic_file, remove_file, write_csv, write_json
from sparserl.rundir.files import RunFileError
from sparserl.rundir.networks import (
    NetworksFileError,
    SavedNetworks,
    load_networks,
    save_networks,
    saved_steps,
)
from sparserl.rundir.schema import FORMAT_VERSION, FormatVersionError
from sparserl.rundir.status import RunRecord, RunStatus, inspect_run

# Rebuilding a policy needs JAX, the agents and the environments; readers of results do not.
_POLICY = ("LoadedRun", "evaluate", "load_policy", "load_run")


def __getattr__(name: str):
    if name in _POLICY:
        from sparserl.rundir import policy

        return getattr(policy, name)
    raise AttributeError(f"module 'sparserl.rundir' has no attribute {name!r}")


__all__ = [
    *_POLICY,
    "FORMAT_VERSION",
    "FormatVersionError",
    "NetworksFileError",
    "OutputError",
    "RunFileError",
    "RunRecord",
    "RunStatus",
    "SavedNetworks",
    "atomic_file",
    "inspect_run",
    "load_networks",
    "remove_file",
    "save_networks",
    "saved_steps",
    "write_csv",
    "write_json",
]
