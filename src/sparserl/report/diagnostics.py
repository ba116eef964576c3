"""The numbers of the report's analysis section, from the finished groups: each probe measure
over training (mean and 95% CI over seeds), each run's late-training value and their mean per
group with a stratified-bootstrap CI (sparserl.stats), the return under observation noise per
σ, and the gradient cosine matrices to draw."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from sparserl.report.curves import mean_curves
from sparserl.report.groups import MATCHED
from sparserl.report.style import method_key
from sparserl.rundir import load_gradient_cosines
from sparserl.rundir.schema import (
    DORMANT_FRACTION,
    GRADIENT_SNR,
    MASK_TURNOVER,
    PARAMETER_NORM,
    SRANK,
    STEP,
)
from sparserl.stats import DEFAULT_REPS, interval_estimates
from sparserl.train import final_score

# The measures drawn and tabled, in the order of Obando-Ceron et al. 2024's Fig. 11 (Q-target
# variance, parameter norm, Q norm, srank, dormant fraction; the Q-estimate variance of their
# Sec. 5 text beside the first), then Graesser et al. 2022's gradient SNR and the mask
# turnover; with their axis names.
MEASURES = {
    "q_target_variance": "Q-target variance",
    "q_variance": "Q-estimate variance",
    PARAMETER_NORM: "parameter norm",
    "q_norm": "Q norm",
    SRANK: "srank",
    DORMANT_FRACTION: "dormant fraction",
    GRADIENT_SNR: "gradient SNR",
    MASK_TURNOVER: "mask turnover",
}
# The columns of the groups a run's analysis rows carry.
GROUP_COLUMNS = ["run_id", "env", "group", "setting", "label", "sparsity", "measured_sparsity"]


def network_values(long: pd.DataFrame) -> pd.DataFrame:
    """run_id, step, network, measure, value of the MEASURES drawn: the network-wide values of
    `results.long_diagnostics`, and the mask turnover (recorded per layer only) as the mean
    over the network's layers."""
    whole = long[(long["layer"] == "") & long["measure"].isin(list(MEASURES))]
    turnover = (
        long[long["measure"] == MASK_TURNOVER]
        .groupby(["run_id", STEP, "network", "measure"], as_index=False)["value"]
        .mean()
    )
    return pd.concat([whole.drop(columns="layer"), turnover], ignore_index=True)


def measure_curves(
    groups: pd.DataFrame, values: pd.DataFrame, *, reps: int = DEFAULT_REPS, seed: int = 0
) -> pd.DataFrame:
    """One row per (env, group, network, measure, step) that every seed of the group probed:
    env, group, network, measure, setting, label, sparsity, step, seeds, mean, low, high."""
    rows = values.merge(groups[GROUP_COLUMNS], on="run_id")
    keys = ["env", "group", "network", "measure"]
    return mean_curves(rows, keys, STEP, "value", reps=reps, seed=seed)


def final_values(groups: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, network, measure): the run's group columns, network, measure and
    `value`, the mean of its last 10% of probes (at least one; `train.final_score`, as the
    final return), if finite."""
    rows = []
    for (run_id, network, measure), own in values.groupby(["run_id", "network", "measure"]):
        value = final_score(list(own.sort_values(STEP)["value"]))
        if np.isfinite(value):
            rows.append({"run_id": run_id, "network": network, "measure": measure, "value": value})
    finals = pd.DataFrame(rows, columns=["run_id", "network", "measure", "value"])
    return groups[GROUP_COLUMNS].merge(finals, on="run_id")


def final_table(finals: pd.DataFrame, *, reps: int = DEFAULT_REPS, seed: int = 0) -> pd.DataFrame:
    """One row per (env, group, network, measure): env, setting, group, label, sparsity,
    measured_sparsity, network, measure, seeds and the mean over seeds of the runs' final
    values with its 95% stratified-bootstrap CI (`stats.interval_estimates`): mean, low, high;
    sorted by env, setting, method, sparsity, network and MEASURES order."""
    rows = []
    for (_, network, measure), own in finals.groupby(["env", "network", "measure"]):
        matrices = {g: r["value"].to_numpy()[:, None] for g, r in own.groupby("group")}
        estimates = interval_estimates(matrices, ["mean"], reps=reps, seed=seed)
        for estimate in estimates.itertuples(index=False):
            first = own[own["group"] == estimate.algorithm].iloc[0]
            rows.append(
                {
                    **first[["env", "setting", "group", "label", "sparsity"]].to_dict(),
                    "measured_sparsity": first["measured_sparsity"],
                    "network": network,
                    "measure": measure,
                    "seeds": len(matrices[estimate.algorithm]),
                    "mean": estimate.estimate,
                    "low": estimate.low,
                    "high": estimate.high,
                }
            )
    table = pd.DataFrame(rows)
    order = table.assign(
        _method=table["label"].map(method_key),
        _sparsity=table["sparsity"].fillna(table["measured_sparsity"]).fillna(-1.0),
        _measure=table["measure"].map(list(MEASURES).index),
    )
    columns = ["env", "setting", "_method", "_sparsity", "group", "network", "_measure"]
    return order.sort_values(columns).drop(columns=["_method", "_sparsity", "_measure"])


def parameter_budget(groups: pd.DataFrame) -> pd.Series:
    """Each group's weight budget as a fraction of its dense network's: 1 - sparsity (the
    target level, else the level reached; a dense run: 1)."""
    level = groups["sparsity"].fillna(groups["measured_sparsity"]).fillna(0.0)
    return (1.0 - level).round(2)


def noise_curves(
    groups: pd.DataFrame, noise: pd.DataFrame, *, reps: int = DEFAULT_REPS, seed: int = 0
) -> pd.DataFrame:
    """One row per (env, budget, group, σ) that every seed of the group was evaluated at: env,
    budget (`parameter_budget`), group, setting, label, sparsity, sigma, seeds, mean, low,
    high of the return under observation noise."""
    runs = groups[GROUP_COLUMNS].assign(budget=parameter_budget(groups))
    rows = noise[["run_id", "sigma", "eval_return"]].merge(runs, on="run_id")
    keys = ["env", "budget", "group"]
    return mean_curves(rows, keys, "sigma", "eval_return", reps=reps, seed=seed)


class CosineMatrix(NamedTuple):
    """A gradient cosine matrix to draw: where it comes from and the [N, N] values."""

    env: str
    setting: str
    group: str
    network: str
    seed: int
    step: int
    matrix: np.ndarray


def latest_cosines(groups: pd.DataFrame) -> list[CosineMatrix]:
    """Dense against sparse (Obando-Ceron et al. 2024, Fig. 14): per env and setting, the
    gradient cosine matrices of every method label's group at its highest sparsity (the
    parameter-matched dense left out), from its lowest seed with a saved matrix, at that
    run's latest saved step; in the methods' fixed order."""
    found = []
    candidates = groups[groups["label"] != MATCHED].assign(
        _level=groups["sparsity"].fillna(groups["measured_sparsity"]).fillna(-1.0)
    )
    for (env, setting, _), rows in candidates.groupby(["env", "setting", "label"]):
        top = rows[rows["_level"] == rows["_level"].max()]
        for _, run in top.sort_values("seed").iterrows():
            saved = load_gradient_cosines(Path(run["path"]))
            if saved:
                step = max(saved)
                found += [
                    CosineMatrix(env, setting, run["group"], name, int(run["seed"]), step, m)
                    for name, m in saved[step].items()
                ]
                break
    labels = dict(zip(groups["group"], groups["label"], strict=True))
    return sorted(found, key=lambda c: (c.env, c.setting, method_key(labels[c.group]), c.network))
