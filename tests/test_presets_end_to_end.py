"""Every sweep preset at every scale, shrunk to a handful of steps, two seeds and the smallest
network that builds, run through `run_sweep` and `write_report`: every group finishes and is
scored, every figure is drawn (issue 14), the analysis section's too, after the post-hoc
evaluation a preset's design adds (issue 16). `shrink` works on any SweepSpec, so a new preset is
covered without being named here."""

from __future__ import annotations

import dataclasses
import io
import itertools
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sparserl.agents import AGENTS, env_preset, make_agent
from sparserl.analysis.posthoc import EvalSettings, evaluate_directory
from sparserl.envs import ENVS, make_env
from sparserl.nets import TORSOS
from sparserl.report import figures, write_report
from sparserl.report.curves import learning_curves
from sparserl.report.groups import axis_columns, finished_groups
from sparserl.report.scores import ALL_ENVS, score_table
from sparserl.results import load
from sparserl.sweeps import (
    PRESETS,
    SCALES,
    SweepSpec,
    SweepSpecError,
    check,
    expand,
    load_preset,
    loads,
    parse,
    planned_runs,
    preset_evaluation,
    run_sweep,
)
from sparserl.sweeps.runner import spec_data

SEEDS = 2
# Families of which one env is kept (the spec's first): Atari and MuJoCo step on the host, and
# a MinAtar game compiles slowly (Freeway: 90-130 s per chunk program on a 2-core machine,
# Asterix ~85 s, against ~10 s for Breakout). Classic control keeps its envs (and so the
# report's 'all envs' panel is exercised).
ONE_ENV_FAMILIES = ("atari", "minatar", "mujoco")
# Replay, batch and rollout sizes of any agent that has the option: learning starts at once.
TINY_OPTIONS: dict[str, Any] = {
    "batch_size": 2,
    "replay_capacity": 32,
    "min_replay": 32,  # within the capacity until `shrink` lowers it to the first batch
    "epsilon_decay_steps": 1,
    "learning_starts": 0,
    "num_envs": 1,
    "num_steps": 2,
    "minibatch_size": 2,
    "num_epochs": 1,
}
HIDDEN_UNITS = tuple(2**i for i in range(10))  # 1 to 512 tried: the first where all groups build
REPS = 50  # bootstrap samples of the reports
NOISE_LEVELS = (0.0, 30.0)  # a preset's post-hoc evaluation, at its ends only
# Too long for CI on 2 cores (about 4 min per preset scale): its own suite, `-m presets`.
pytestmark = pytest.mark.presets


def shrink(spec: SweepSpec) -> SweepSpec:
    """`spec` with its agents, methods, sparsity levels, widths and axes, on one env of each
    ONE_ENV_FAMILIES family, SEEDS seeds, two evaluations of one episode, replay and rollouts
    of a few steps, and MLPs of the fewest units per layer at which every group builds."""
    first = {}
    for env in spec.envs:
        first.setdefault(ENVS[env].family, env)
    envs = [e for e in spec.envs if ENVS[e].family not in ONE_ENV_FAMILIES or e in first.values()]
    fixed = set(spec.axes) | set(spec.sweep)  # options a group takes from elsewhere
    overrides = {a: _tiny_options(spec, a, fixed) for a in spec.agents}
    configs = [(a, c) for a in spec.agents for c in _configs(spec, envs, a, overrides[a])]
    if "min_replay" not in fixed:  # replay just full enough for a first batch
        for agent in (a for a in spec.agents if "min_replay" in AGENT_FIELDS[a]):
            needs = [c.batch_size + c.n_step for a, c in configs if a == agent]
            overrides[agent]["min_replay"] = max(needs)
    period = math.lcm(*(_period(config) for _, config in configs))  # of every group
    for agent in spec.agents:
        if "target_update_period" in AGENT_FIELDS[agent] and "target_update_period" not in fixed:
            overrides[agent]["target_update_period"] = period
    longest = max((o.get("min_replay", 0) for o in overrides.values()), default=0)
    interval = period * math.ceil((longest + 1) / (2 * period))  # 2 * interval > min_replay
    data = spec_data(spec)
    data.update(envs=envs, seeds=SEEDS, eval_episodes=1, steps=2 * interval, eval_interval=interval)
    shared = {k: v for k, v in spec.overrides.items() if k not in AGENTS}
    for units in HIDDEN_UNITS:
        data["overrides"] = {**shared, **_with_hidden(envs, spec, overrides, configs, units)}
        candidate = parse(data)
        if _builds(candidate):
            return candidate
    raise AssertionError(f"{spec.name}: no network of up to {HIDDEN_UNITS[-1]} units builds")


AGENT_FIELDS = {n: {f.name for f in dataclasses.fields(e.config)} for n, e in AGENTS.items()}


def _tiny_options(spec: SweepSpec, agent: str, fixed: set[str]) -> dict[str, Any]:
    """The agent's own overrides, then the TINY_OPTIONS it has (but not those an axis sets)."""
    tiny = {k: v for k, v in TINY_OPTIONS.items() if k in AGENT_FIELDS[agent] and k not in fixed}
    return {**spec.overrides.get(agent, {}), **tiny}


def _configs(spec: SweepSpec, envs: list[str], agent: str, own: dict[str, Any]) -> Iterator[Any]:
    """The agent's config on each env at each combination of the axes it has."""
    names = [n for n in spec.axes if n in AGENT_FIELDS[agent]]
    shared = {k: v for k, v in spec.overrides.items() if k not in AGENTS}
    for env_id in envs:
        env = make_env(env_id, env_preset(agent, spec.preset))
        for values in itertools.product(*(spec.axes[n] for n in names)):
            options = {**shared, **own, **dict(zip(names, values, strict=True))}
            yield make_agent(agent, env, spec.preset, options).config


def _period(config: Any) -> int:
    """Env steps per learning iteration: 1 / replay ratio (value agents), the rollout (PPO),
    one step (SAC, TD3)."""
    if hasattr(config, "update_schedule"):
        return config.update_schedule()[0]
    return getattr(config, "rollout_size", 1)


def _with_hidden(
    envs: list[str], spec: SweepSpec, overrides: dict[str, dict], configs: list, units: int
) -> dict[str, dict]:
    """Per-agent overrides with every MLP layer at `units`, as many layers as before; agents
    on conv torsos keep their network."""
    out = {agent: dict(options) for agent, options in overrides.items()}
    for agent, config in configs:
        hidden = getattr(config, "hidden", ())
        if hidden is None and all(ENVS[e].torso == "mlp" for e in envs) and not config.torso:
            hidden = TORSOS["mlp"].hidden  # the MLP torso's default layers
        if hidden and "hidden" not in spec.axes:
            out[agent]["hidden"] = [units] * len(hidden)
    return out


def _builds(spec: SweepSpec) -> bool:
    """Whether every group builds at the highest sparsity (the fewest weights)."""
    hardest = dataclasses.replace(spec, sparsities=tuple(sorted(spec.sparsities))[-1:])
    try:
        check(expand(hardest))
    except SweepSpecError:
        return False
    return True


def _cases() -> list[tuple[str, str]]:
    return [(name, scale) for name in PRESETS for scale in SCALES if scale in PRESETS[name]]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "scale"), _cases())
def test_preset_runs_through_sweep_and_report(name, scale, tmp_path):
    full = load_preset(name, scale)
    spec = shrink(full)
    kept = ("agents", "methods", "sparsities", "widths", "axes", "sweep", "preset")
    assert [getattr(spec, k) for k in kept] == [getattr(full, k) for k in kept]
    assert {ENVS[e].family for e in spec.envs} == {ENVS[e].family for e in full.envs}
    _sweep_and_report(spec, tmp_path, preset_evaluation(name, scale))


@pytest.mark.slow
def test_a_sweep_with_axes_compares_them_in_its_report(tmp_path):
    """Issue 14, item 4, end to end: replay ratio 0.25 and 1 under one directory are groups of
    their own, scored and drawn against each other."""
    spec = shrink(loads(AXES_SPEC))
    groups = _sweep_and_report(spec, tmp_path)
    assert sorted(set(groups["group"])) == [
        "replay_ratio=0.25 dense",
        "replay_ratio=0.25 rigl 0.9",
        "replay_ratio=1 dense",
        "replay_ratio=1 rigl 0.9",
    ]
    assert sorted(set(groups["axis:replay_ratio"])) == [0.25, 1.0]


AXES_SPEC = """
name: axes
agents: [dqn]
envs: [CartPole-v1]
methods: [dense, rigl]
sparsities: [0.9]
axes: {replay_ratio: [0.25, 1]}
"""


def _sweep_and_report(
    spec: SweepSpec, out: Path, evaluation: EvalSettings | None = None
) -> pd.DataFrame:
    """Run `spec` into `out`, then its post-hoc `evaluation` if any (at NOISE_LEVELS, one
    episode), and write its report; check that every run finished, a rerun keeps them all,
    every group is scored on its envs over SEEDS seeds and drawn in every figure, the
    analysis figures included; returns the finished groups."""
    runs = planned_runs(expand(spec))
    outcome = run_sweep(spec, out, stream=io.StringIO())
    assert (outcome.finished, outcome.failed) == (len(runs), 0)
    assert run_sweep(spec, out, stream=io.StringIO()).kept == len(runs)  # resumes: all kept
    if evaluation is not None:
        small = dataclasses.replace(evaluation, sigmas=NOISE_LEVELS, episodes=1)
        assert len(evaluate_directory(out, small).evaluated) == len(runs)

    index = write_report(out, reps=REPS)
    results = load(out)
    groups = finished_groups(results.runs)
    assert len(groups) == len(runs)
    table = pd.read_csv(index.parent / "scores.csv", keep_default_na=False)
    per_env = table[table["env"] != ALL_ENVS]
    assert sorted(zip(per_env["env"], per_env["group"], strict=True)) == sorted(
        set(zip(groups["env"], groups["group"], strict=True))
    )
    assert (per_env["seeds"] == SEEDS).all()
    expected = {"iqm_by_sparsity", "return_vs_parameters", "learning_curves"}
    if axis_columns(groups):
        expected.add("return_by_axis")
    if spec.diagnostics_every:  # every run probes at its second evaluation, at least
        expected |= {"diagnostics_over_training", "gradient_covariance"}
        if groups["sparsity"].notna().any() or groups["measured_sparsity"].notna().any():
            expected.add("snr_by_sparsity")
    if evaluation is not None:
        expected.add("noise_robustness")
    assert {p.stem for p in index.parent.glob("*.svg")} == expected
    assert index.read_text().count("data:image/png;base64,") == len(expected)

    # every group is a line of the learning curves, in the panel of its env and setting
    panels = set(zip(groups["env"], groups["setting"], strict=True))
    curves = figures.learning_curves_figure(learning_curves(groups, results.evaluations))
    assert _legend(curves) == {f"{group} (n={SEEDS})" for group in groups["group"]}
    assert _visible_panels(curves) == len(panels)
    scores = score_table(groups, reps=REPS)
    everywhere = set(zip(scores["env"], scores["setting"], strict=True))
    assert _visible_panels(figures.iqm_by_sparsity(scores)) == len(everywhere)
    assert _legend(figures.return_vs_parameters(scores)) == set(groups["label"])
    return groups


def _legend(fig) -> set[str]:
    return {text.get_text() for legend in fig.legends for text in legend.get_texts()}


def _visible_panels(fig) -> int:
    return sum(ax.get_visible() for ax in fig.axes)
