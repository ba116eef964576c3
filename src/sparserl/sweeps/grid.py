"""Expand a sweep into groups, one TrainSpec per compiled program (agent, env, method, shapes,
sweep-axis values), and check every group before the first one runs."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from typing import Any

from sparserl.experiment.grid import filesystem_safe
from sparserl.sparsity.methods import option_names
from sparserl.sweeps.spec import (
    ACTOR_FRACTION,
    MethodEntry,
    SweepSpec,
    SweepSpecError,
    agent_option_names,
    is_actor_critic,
    method_option_names,
)
from sparserl.train import Plan, TrainSpec, grid_points, resolve, run_id

# What resolve raises for a group that cannot run: every config error (Agent-, Env-,
# Sparsity-, TrainConfigError) is a ValueError, and so is e.g. a parameter-matched width that
# no width reaches.
CONFIG_ERRORS = ValueError


@dataclasses.dataclass(frozen=True)
class GroupSpec(TrainSpec):
    """A group of a sweep: its TrainSpec plus the sweep-axis values it was given (its id names
    them)."""

    axes: dict[str, Any] = dataclasses.field(default_factory=dict)


def _method_options(spec: SweepSpec, entry: MethodEntry) -> dict[str, Any]:
    """The shared method options this entry's method has, then the entry's own."""
    if entry.name == "dense":
        return dict(entry.options)
    fields = option_names(entry.name)
    shared = {k: v for k, v in spec.method_options.items() if k in fields}
    return {**shared, **entry.options}


def _axis_values(spec: SweepSpec, agent: str, entry: MethodEntry) -> list[dict[str, Any]]:
    """The axis values of each group of (agent, method entry): every combination of the axes
    that apply to them (agent options it has, options of its sparse method, actor_fraction of
    an actor-critic agent's sparse groups), each once."""
    applies = set(agent_option_names(agent)) | set(method_option_names(entry))
    if is_actor_critic(agent) and method_option_names(entry):
        applies.add(ACTOR_FRACTION)
    names = [name for name in spec.axes if name in applies]
    combos = itertools.product(*(spec.axes[name] for name in names))
    return [dict(zip(names, combo, strict=True)) for combo in combos]


def expand(spec: SweepSpec) -> list[GroupSpec]:
    """One group per (agent, env, method entry, axis values, width), or per (agent, env, axis
    values, level) for the matched dense entry; sparsity levels, swept values and seeds stay
    inside each group, except that a group of more than `max_runs_per_group` runs is split by
    sparsity level."""
    groups = []
    limit = spec.max_runs_per_group
    per_level = spec.seeds * math.prod(len(values) for values in spec.sweep.values())
    if limit is not None and per_level > limit:
        raise SweepSpecError(
            f"max_runs_per_group {limit} is below the runs of one sparsity level ({spec.seeds} "
            f"seeds x swept values = {per_level}); raise it or use fewer seeds"
        )
    for agent, env, entry in itertools.product(spec.agents, spec.envs, spec.methods):
        for axes in _axis_values(spec, agent, entry):
            groups += _groups(spec, agent, env, entry, axes, per_level)
    return groups


def _groups(
    spec: SweepSpec,
    agent: str,
    env: str,
    entry: MethodEntry,
    axes: dict[str, Any],
    per_level: int,
) -> list[GroupSpec]:
    """The groups of one (agent, env, method entry) at one set of axis values."""
    agent_axes = {k: v for k, v in axes.items() if k in agent_option_names(agent)}
    method_axes = {k: v for k, v in axes.items() if k in method_option_names(entry)}
    base = GroupSpec(
        agent=agent,
        env=env,
        method=entry.name,
        seeds=spec.seeds,
        steps=spec.steps_for(agent, env),
        eval_interval=spec.eval_interval,
        eval_episodes=spec.eval_episodes,
        preset=spec.preset,
        agent_options={**spec.overrides_for(agent), **agent_axes},
        method_options={**_method_options(spec, entry), **method_axes},
        sweep=dict(spec.sweep),
        actor_fraction=axes.get(ACTOR_FRACTION),
        save_networks_every=spec.save_networks_every,
        diagnostics_every=spec.diagnostics_every,
        diagnostics_batch=spec.diagnostics_batch,
        axes=axes,
    )
    if entry.match_sparsity:
        return [dataclasses.replace(base, match_sparsity=s) for s in spec.sparsities]
    levels = () if entry.name == "dense" else spec.sparsities
    parts = [levels]
    limit = spec.max_runs_per_group
    if levels and limit is not None:
        step = limit // per_level
        parts = [levels[i : i + step] for i in range(0, len(levels), step)]
    groups = []
    for width, part in itertools.product(spec.widths, parts):
        options = {**base.agent_options, "width": width}
        groups.append(dataclasses.replace(base, sparsities=part, agent_options=options))
    return groups


def _label(key: str, value: Any) -> str:
    """`key-value` for a scalar option, `key-<hash>` for a structured one (e.g. ER lambdas)."""
    if isinstance(value, (str, int, float, bool)):
        return f"{key}-{value:g}" if isinstance(value, float) else f"{key}-{value}"
    text = json.dumps(value, sort_keys=True, default=str)
    return f"{key}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def group_id(spec: TrainSpec) -> str:
    """A stable, filesystem-safe name for a group: agent, env, method and its options, the
    other sweep-axis values (agent options, actor_fraction), width or matched level, preset."""
    parts = [spec.agent, spec.env, spec.method or "preset-method"]
    parts += [_label(k, v) for k, v in sorted(spec.method_options.items())]
    axes = getattr(spec, "axes", {})  # a TrainSpec made outside a sweep has none
    parts += [_label(k, v) for k, v in sorted(axes.items()) if k not in spec.method_options]
    if spec.sparsities:  # the levels inside (a split sweep has several groups per method)
        parts.append("levels-" + "+".join(f"{s:g}" for s in spec.sparsities))
    if spec.match_sparsity is not None:
        parts.append(f"match{spec.match_sparsity:g}")
    else:
        parts.append(f"width{spec.agent_options.get('width', 1.0):g}")
    if spec.preset is not None:
        parts.append(f"preset-{spec.preset}")
    return filesystem_safe("_".join(parts))


def planned_runs(groups: list[TrainSpec]) -> list[tuple[str, str]]:
    """(group_id, run_id) of every run of every group, from the grid expansion training uses
    (`experiment.grid_points`); a run's directory is group_id/run_id, since run ids alone do not
    name widths or method options."""
    return [(group_id(g), run_id(g, point)) for g in groups for point in grid_points(g)]


def check(groups: list[TrainSpec]) -> list[Plan]:
    """Resolve every group before any run starts: their plans, in order, which the groups
    then train from (nothing is resolved twice); one SweepSpecError lists every failing
    group under its error."""
    failures: dict[str, list[str]] = {}
    plans = []
    ids = [group_id(g) for g in groups]
    for name, group in zip(ids, groups, strict=True):
        try:
            plans.append(resolve(group))
        except CONFIG_ERRORS as error:
            failures.setdefault(f"{type(error).__name__}: {error}", []).append(name)
    repeated = sorted({name for i, name in enumerate(ids) if name in ids[:i]})
    if repeated:
        failures["the same group twice (one program would run twice)"] = repeated
    if failures:
        failing = {name for names in failures.values() for name in names}
        lines = [f"{len(failing)} of {len(groups)} group(s) cannot run:"]
        for message, names in failures.items():
            lines.append(f"- {message}")
            lines += [f"    {name}" for name in names]
        raise SweepSpecError("\n".join(lines))
    return plans
