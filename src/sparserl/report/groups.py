"""Name the compared groups of a sweep. A group is the finished runs that share every config
dimension that varies in the directory: agent, preset, method (with its layer distribution and
width; parameter-matched dense runs become "dense (matched)" at the level they match), each
agent or method option that differs between runs of one agent (sweep axes, swept values),
actor_fraction, and sparsity. Labels name only the dimensions that vary, so a one-agent sweep
reads 'rigl 0.9' and a two-agent one 'sac rigl 0.9'."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from sparserl.sparsity import METHODS

DENSE, MATCHED = "dense", "dense (matched)"
# Runs of a sparse method with no target sparsity (DS/Static with ER lambdas) are placed at the
# sparsity they reached, rounded to this many decimals: 0.4731 -> 0.47.
MEASURED_DECIMALS = 2
AXIS_PREFIX = "axis:"  # columns holding the value of each varying option (or width)
# Config fields that are no options of their own: named by other columns or set by the grid.
_NOT_OPTIONS = frozenset({"width", "sparsity", "total_steps", "distribution"})
# Where an option is compared: an agent option between runs of one agent and preset on one env,
# a method option (or actor_fraction) between runs that also share the method.
_AGENT_CONTEXT = ["env", "agent", "preset"]
_METHOD_CONTEXT = [*_AGENT_CONTEXT, "method"]


class GroupError(ValueError):
    """Runs that cannot be told apart: the same config, env and seed twice."""


def group_name(label: str, sparsity: float, setting: str = "") -> str:
    """'dense', 'rigl 0.9', 'sac dense (matched) 0.9': setting, label and, if any, sparsity."""
    parts = [setting, label, "" if pd.isna(sparsity) else f"{sparsity:g}"]
    return " ".join(part for part in parts if part)


def finished_groups(runs: pd.DataFrame) -> pd.DataFrame:
    """The finished rows of `runs` with `label` (method, distribution, width and varying method
    options), `setting` (agent, varying agent options and preset, where they vary; '' if
    none), `sparsity` (matched dense: the level matched), `measured_sparsity` (sparse runs
    with no target level: the one reached), `group`, and one AXIS_PREFIX column per varying
    option (and width, if it varies). Raises GroupError if two runs share group, env and seed."""
    finished = runs[runs["status"] == "finished"].copy().reset_index(drop=True)
    matched = finished["match_sparsity"].notna()
    finished.loc[matched, "sparsity"] = finished.loc[matched, "match_sparsity"]
    no_level = finished["sparsity"].isna() & (finished["method"] != DENSE)
    finished["measured_sparsity"] = finished["final_sparsity"].round(MEASURED_DECIMALS)
    finished.loc[~no_level, "measured_sparsity"] = float("nan")
    finished["width"] = finished["width"].fillna(1.0)

    options = {
        kind: _table([_flat(config) for config in finished[f"{kind}_config"]])
        for kind in ("agent", "method")
    }
    options["method"]["actor_fraction"] = finished["actor_fraction"].astype(object)
    options = {kind: table.where(table.notna(), None) for kind, table in options.items()}
    agent_axes = _varying(finished, options["agent"], _AGENT_CONTEXT)
    method_axes = _varying(finished, options["method"], _METHOD_CONTEXT)
    for key in agent_axes:
        finished[AXIS_PREFIX + key] = options["agent"][key].to_numpy()
    for key in method_axes:
        finished[AXIS_PREFIX + key] = options["method"][key].to_numpy()
    if finished.loc[~matched, "width"].nunique() > 1:
        finished[AXIS_PREFIX + "width"] = finished["width"].where(~matched)

    agents_vary = finished["agent"].nunique() > 1
    presets_vary = _differs(finished, finished["preset"], ["env", "agent"])
    labels, settings = [], []
    for i, row in finished.iterrows():
        method = [_token(key, options["method"].at[i, key]) for key in method_axes]
        labels.append(" ".join([_method_label(row, matched[i]), *filter(None, method)]))
        setting = [row["agent"]] if agents_vary else []
        setting += [_token(key, options["agent"].at[i, key]) for key in agent_axes]
        setting += [f"preset={row['preset']}"] if presets_vary else []
        settings.append(" ".join(filter(None, setting)))
    finished["label"], finished["setting"] = labels, settings
    finished["group"] = [
        group_name(label, sparsity, setting)
        for label, sparsity, setting in zip(
            finished["label"], finished["sparsity"], finished["setting"], strict=True
        )
    ]
    _check_distinct(finished)
    return finished


def axis_columns(table: pd.DataFrame) -> list[str]:
    """The AXIS_PREFIX columns of a table: the options (and width) that vary."""
    return [c for c in table.columns if c.startswith(AXIS_PREFIX)]


def _method_label(row: pd.Series, matched: bool) -> str:
    """'rigl', 'rigl (uniform)' when the distribution is not the method's default, 'dense x3'
    for another width; MATCHED for a parameter-matched dense run."""
    if matched:
        return MATCHED
    method, distribution = row["method"], row["distribution"]
    label = method
    fields = METHODS[method].__dataclass_fields__ if method in METHODS else {}
    default = fields["distribution"].default if "distribution" in fields else None
    if isinstance(distribution, str) and distribution not in (default, "mixed"):
        label += f" ({distribution})"
    return label if row["width"] == 1.0 else f"{label} x{row['width']:g}"


def _flat(config: Any, prefix: str = "") -> dict[str, Any]:
    """A config as {name: value}, nested ones with dotted names ('actor.update_interval'),
    without the fields in _NOT_OPTIONS; lists and other values as JSON text, so that they
    compare and hash."""
    if not isinstance(config, Mapping):
        return {}
    flat = {}
    for key, value in config.items():
        if key in _NOT_OPTIONS:
            continue
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{prefix}{key}."))
        elif value is None or isinstance(value, (bool, str)):
            flat[prefix + key] = value
        elif isinstance(value, (int, float)):
            flat[prefix + key] = float(value)  # 1 and 1.0 are one value
        else:
            flat[prefix + key] = json.dumps(value, sort_keys=True, default=str)
    return flat


def _table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One column per option of any run, one row per run (in order), object values."""
    return pd.DataFrame(rows, index=range(len(rows)), dtype=object)


def _varying(finished: pd.DataFrame, options: pd.DataFrame, context: list[str]) -> list[str]:
    """The options whose values differ between two runs of one context, in config order."""
    return [key for key in options.columns if _differs(finished, options[key], context)]


def _differs(finished: pd.DataFrame, values: pd.Series, context: list[str]) -> bool:
    """Whether `values` (one per run) take two values among the runs of one `context`."""
    if finished.empty:
        return False
    text = values.astype(str)  # None and NaN compare as one value
    keys = [finished[column].astype(str) for column in context]
    return bool(text.groupby(keys).nunique().gt(1).any())


def axis_token(column: str, value: Any) -> str:
    """How a group name shows the value of an axis column: 'x3' for width 3 ('' for 1),
    'replay_ratio=1' for an option, '' for a run without it."""
    key = column.removeprefix(AXIS_PREFIX)
    if key == "width":
        return "" if value is None or pd.isna(value) or value == 1.0 else f"x{value:g}"
    return _token(key, value)


def _token(key: str, value: Any) -> str:
    """'replay_ratio=1', or '' for a run without the option."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{key}={int(value)}" if value.is_integer() else f"{key}={value:g}"
    return f"{key}={value}"


def _check_distinct(finished: pd.DataFrame) -> None:
    """Two runs in one group with the same env and seed are the same run twice."""
    repeated = finished[finished.duplicated(["group", "env", "seed"], keep=False)]
    if repeated.empty:
        return
    first = repeated.iloc[0]
    same = repeated[
        (repeated["group"] == first["group"])
        & (repeated["env"] == first["env"])
        & (repeated["seed"] == first["seed"])
    ]
    raise GroupError(
        f"runs {list(same['run_id'])} have the same config (group {first['group']!r}, env "
        f"{first['env']}, seed {first['seed']}); keep one of them"
    )


def unfinished(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that are not scored (partial, failed, corrupt, missing) with their reasons."""
    columns = ["run_id", "status", "reason", "env", "method", "sparsity", "seed"]
    return runs.loc[runs["status"] != "finished", columns].reset_index(drop=True)
