"""The report's analysis section on a small made-up sweep: every figure drawn from the files the
runs hold (probe columns, gradient cosine files, noise results), the final diagnostics equal
to hand-computed means over seeds, and no analysis where the runs recorded none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sparserl.report import write_report
from sparserl.report.analysis import CAPTIONS, TABLE_FILE
from sparserl.report.diagnostics import latest_cosines, noise_curves
from sparserl.report.groups import finished_groups
from sparserl.results import load, load_noise, long_diagnostics
from sparserl.rundir import save_gradient_cosines, write_csv, write_json
from sparserl.rundir.schema import (
    CONFIG,
    EVAL_SETTINGS,
    METRICS,
    NOISE,
    SUMMARY,
    diagnostic_column,
    diagnostic_key,
)

REPS = 100
SEEDS = (0, 1, 2)
STEPS = (1000, 2000, 3000, 4000)  # evaluations; the first has no probe (before learning)
SIGMAS = (0.0, 15.0, 30.0)
# (agent, env) -> its networks; group -> (method, sparsity)
AGENTS = {("dqn", "CartPole-v1"): ("online",), ("sac", "Pendulum-v1"): ("actor", "critic")}
GROUPS = {"dense": ("dense", None), "rigl 0.5": ("rigl", 0.5), "rigl 0.9": ("rigl", 0.9)}
Q_MEASURES = ("q_mean", "q_variance", "q_norm", "q_target_variance")
ANALYSIS_FIGURES = set(CAPTIONS)


def _probe(network: str, measure: str, group: str, seed: int, step: int) -> float:
    """A made-up probe value, different for every network, measure, group, seed and step."""
    base = 1 + list(GROUPS).index(group) + 0.1 * seed + step / 10_000
    return round(base * (1 + 0.01 * len(measure + network)), 6)


def _snr(group: str, seed: int, step: int) -> float:
    """The gradient SNR: falls with sparsity, rises over training."""
    return round((0.5 - 0.2 * list(GROUPS).index(group)) * (1 + 0.1 * seed) * step / 4000, 6)


def _metrics_row(networks, group: str, seed: int, step: int) -> dict:
    row = {"step": step, "eval_return": 10.0 * seed + step / 100, "parameters": 100}
    if step == STEPS[0]:
        return row
    for network in networks:
        measures = ["parameter_norm", "srank", "dormant_fraction"]
        measures += list(Q_MEASURES) if network != "actor" else []
        for measure in measures:
            row[diagnostic_column(network, measure)] = _probe(network, measure, group, seed, step)
        row[diagnostic_column(network, "gradient_snr")] = _snr(group, seed, step)
        row[diagnostic_column(network, diagnostic_key("dormant_fraction", 0))] = 0.5
        for i, layer in enumerate(("encoder/dense_0", "head")):  # turnover: 0.1 and 0.3
            key = diagnostic_key("mask_turnover", layer)
            row[diagnostic_column(network, key)] = 0.1 + 0.2 * i
    return row


def _run(root, agent, env, group, seed, *, diagnostics=True, noise=True, cosines=()):
    """A finished run directory: config, metrics (with probe columns if `diagnostics`),
    summary, noise results of `sparserl eval` if `noise`, cosine files at the `cosines` steps."""
    method, sparsity = GROUPS[group]
    run = root / f"{agent}_{env}_{group.replace(' ', '_')}_seed{seed}"
    run.mkdir(parents=True)
    config = {
        "agent": agent,
        "env": env,
        "method": method,
        "seed": seed,
        "sparsity": sparsity,
        "steps": STEPS[-1],
        "eval_interval": STEPS[0],
        "eval_episodes": 2,
        "agent_config": {"hidden": [8], "width": 1.0},
        "method_config": {"distribution": "erk"} if sparsity else None,
    }
    write_json(run / CONFIG, config)
    networks = AGENTS[(agent, env)] if diagnostics else ()
    write_csv(run / METRICS, [_metrics_row(networks, group, seed, s) for s in STEPS])
    summary = {"status": "finished", "final_return": 10.0 * seed + 40, "evaluations": 4}
    summary |= {"parameters": 100, "dense_parameters": 1000, "finite_loss": True}
    write_json(run / SUMMARY, summary)
    if noise:
        (run / "analysis").mkdir()
        rows = [
            {"sigma": sigma, "eval_return": _noisy_return(group, seed, sigma), "episodes": 2}
            for sigma in SIGMAS
        ]
        write_csv(run / NOISE, rows)
        write_json(run / EVAL_SETTINGS, {"sigmas": list(SIGMAS), "episodes": 2})
    for step in cosines:
        matrices = {n: np.eye(4) * (seed + 1) for n in AGENTS[(agent, env)]}
        save_gradient_cosines(run, step, matrices)
    return run


def _noisy_return(group: str, seed: int, sigma: float) -> float:
    return 100.0 - sigma * (1 + list(GROUPS).index(group)) + seed


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """2 agents x 3 groups x 3 seeds with probes, noise results and cosine files (dense: at
    steps 2000 and 4000 from seed 1 on; rigl: at step 3000, every seed); its report written
    once."""
    root = tmp_path_factory.mktemp("analysis") / "sweep"
    for agent, env in AGENTS:
        for group in GROUPS:
            for seed in SEEDS:
                cosines = (3000,) if group != "dense" else ((2000, 4000) if seed else ())
                _run(root, agent, env, group, seed, cosines=cosines)
    write_report(root, reps=REPS)
    return root


def test_every_analysis_figure_and_the_table_are_written(sweep):
    out = sweep / "report"
    for name in ANALYSIS_FIGURES:
        assert (out / f"{name}.png").stat().st_size > 0
        assert (out / f"{name}.svg").stat().st_size > 0
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 3 + len(ANALYSIS_FIGURES)  # + performance
    assert "<h2>final diagnostics</h2>" in page
    summary = (out / "summary.md").read_text()
    assert "## Analysis" in summary and "### Final diagnostics" in summary
    assert summary.index("## Analysis") < summary.index("## Runs not scored")


def test_final_diagnostics_are_the_mean_over_seeds_of_the_last_probe(sweep):
    """3 probes per run: the late-training value is the last one (10% of 3, at least one), the
    table's mean the mean of the three seeds' values."""
    table = pd.read_csv(sweep / "report" / TABLE_FILE, keep_default_na=False)
    rows = table.set_index(["env", "group", "network", "measure"])
    snr = rows.loc[("Pendulum-v1", "sac rigl 0.9", "critic", "gradient_snr")]
    assert snr["seeds"] == 3
    assert snr["mean"] == pytest.approx(np.mean([0.1 * (1 + 0.1 * s) for s in SEEDS]))  # 0.11
    assert snr["low"] <= snr["mean"] <= snr["high"]
    norm = rows.loc[("CartPole-v1", "dqn dense", "online", "parameter_norm")]
    expected = np.mean([_probe("online", "parameter_norm", "dense", s, 4000) for s in SEEDS])
    assert norm["mean"] == pytest.approx(expected)
    turnover = rows.loc[("CartPole-v1", "dqn rigl 0.5", "online", "mask_turnover")]
    assert turnover["mean"] == pytest.approx(0.2)  # the mean of its layers' 0.1 and 0.3
    # an actor has no Q statistics; per-layer dormant fractions are not network measures
    assert set(rows.loc[("Pendulum-v1", "sac dense", "actor")].index) == {
        "parameter_norm",
        "srank",
        "dormant_fraction",
        "gradient_snr",
        "mask_turnover",
    }
    assert len(table) == 3 * (8 + 5 + 8)  # groups x measures of online, actor, critic


def test_the_table_cells_show_the_means(sweep):
    summary = (sweep / "report" / "summary.md").read_text()
    line = next(row for row in summary.splitlines() if "| sac rigl 0.9 | critic |" in row)
    assert "| 0.11 [" in line  # gradient SNR: 0.1, 0.11, 0.12 over the seeds


def test_noise_curves_are_the_mean_over_seeds_per_budget(sweep):
    groups = finished_groups(load(sweep).runs)
    curves = noise_curves(groups, load_noise(sweep), reps=REPS)
    assert set(curves["budget"]) == {1.0, 0.5, 0.1}
    rigl = curves[(curves["group"] == "dqn rigl 0.9") & (curves["sigma"] == 30.0)].iloc[0]
    assert rigl["budget"] == 0.1 and rigl["seeds"] == 3
    assert rigl["mean"] == pytest.approx(100.0 - 30 * 3 + 1)  # seeds 0, 1, 2: mean 1
    assert rigl["low"] <= rigl["mean"] <= rigl["high"]


def test_heat_maps_are_dense_against_the_highest_sparsity_from_the_lowest_seed_saved(sweep):
    groups = finished_groups(load(sweep).runs)
    chosen = [(c.env, c.group, c.network, c.seed, c.step) for c in latest_cosines(groups)]
    assert chosen == [
        ("CartPole-v1", "dqn dense", "online", 1, 4000),
        ("CartPole-v1", "dqn rigl 0.9", "online", 0, 3000),
        ("Pendulum-v1", "sac dense", "actor", 1, 4000),
        ("Pendulum-v1", "sac dense", "critic", 1, 4000),
        ("Pendulum-v1", "sac rigl 0.9", "actor", 0, 3000),
        ("Pendulum-v1", "sac rigl 0.9", "critic", 0, 3000),
    ]
    dense = latest_cosines(groups)[0].matrix
    assert np.array_equal(dense, 2 * np.eye(4))  # seed 1's matrix


def test_long_diagnostics_split_network_measure_and_layer(sweep):
    evaluations = load(sweep).evaluations
    long = long_diagnostics(evaluations)
    assert 1000 not in set(long["step"])  # evaluations without a probe give no rows
    run = long[long["run_id"] == "sac_Pendulum-v1_rigl_0.5_seed2"]
    layers = run[(run["network"] == "critic") & (run["measure"] == "mask_turnover")]
    assert sorted(set(layers["layer"])) == ["encoder/dense_0", "head"]
    whole = run[(run["network"] == "actor") & (run["measure"] == "srank") & (run["step"] == 3000)]
    assert whole["layer"].tolist() == [""]
    assert whole["value"].tolist() == [_probe("actor", "srank", "rigl 0.5", 2, 3000)]
    assert long_diagnostics(
        evaluations.drop(columns=[c for c in evaluations if "diag/" in c])
    ).empty


def test_no_analysis_section_without_diagnostics(tmp_path):
    for group in ("dense", "rigl 0.9"):
        for seed in SEEDS[:2]:
            _run(tmp_path, "dqn", "CartPole-v1", group, seed, diagnostics=False, noise=False)
    write_report(tmp_path, reps=REPS)
    out = tmp_path / "report"
    assert not any((out / f"{name}.png").exists() for name in ANALYSIS_FIGURES)
    assert not (out / TABLE_FILE).exists()
    assert "Analysis" not in (out / "summary.md").read_text()
    assert "final diagnostics" not in (out / "index.html").read_text()


def test_noise_results_alone_give_only_the_noise_figure(tmp_path):
    for group in ("dense", "rigl 0.9"):
        for seed in SEEDS[:2]:
            _run(tmp_path, "dqn", "CartPole-v1", group, seed, diagnostics=False)
    write_report(tmp_path, reps=REPS)
    drawn = {p.stem for p in (tmp_path / "report").glob("*.svg")} & ANALYSIS_FIGURES
    assert drawn == {"noise_robustness"}
    assert "### Final diagnostics" not in (tmp_path / "report" / "summary.md").read_text()
