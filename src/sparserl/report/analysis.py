"""The report's analysis section, drawn only from what the runs recorded: probe measures over
training, gradient SNR against sparsity and the table of final diagnostics when metrics.csv has
diagnostics columns; return under observation noise when `sparserl eval` ran; gradient cosine
heat maps when runs saved their matrices. A sweep with none of these has no analysis section."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pandas as pd
from matplotlib.figure import Figure

from sparserl.report import analysis_figures
from sparserl.report.diagnostics import (
    MEASURES,
    final_table,
    final_values,
    latest_cosines,
    measure_curves,
    network_values,
    noise_curves,
)
from sparserl.report.tables import interval
from sparserl.results import load_noise, long_diagnostics
from sparserl.rundir.schema import EVAL_SETTINGS
from sparserl.stats import DEFAULT_REPS

CAPTIONS = {
    "diagnostics_over_training": (
        "Each probe measure over training (cf. Obando-Ceron et al. 2024, Fig. 11): the mean "
        "over seeds with a 95% bootstrap CI band, per env, setting and network (actor and "
        "critic apart), measured on a fixed probe batch at each probed evaluation. Q-target "
        "and Q-estimate variance, parameter norm (L2, masked weights), Q norm, srank (Kumar "
        "et al. 2021, δ = 0.01, last hidden layer), fraction of τ-dormant neurons (Sokar et "
        "al. 2023, τ = 0.1), gradient SNR (Graesser et al. 2022, active weights) and mask "
        "turnover (the mean over the network's layers of the fraction of active connections "
        "new since the previous probe). Colour is the method, line style the sparsity."
    ),
    "snr_by_sparsity": (
        "Gradient signal-to-noise ratio against sparsity (cf. Graesser et al. 2022, Fig. 5), "
        "actor and critic apart: each run's late-training value (the mean of its last 10% "
        "of probes, as the final return), then the mean over seeds with a 95% "
        "stratified-bootstrap CI (log scale). Dense groups are horizontal lines and bands."
    ),
    "noise_robustness": (
        "Return of the trained policies under observation noise N(0, σ) (cf. Graesser et al. "
        "2022, Fig. 6; `sparserl eval`: integer pixel noise on Atari, noise scaled by each "
        "dimension's spread elsewhere), one panel per parameter budget (1 - sparsity: 100% "
        "dense, 50%, 10%, ...): the mean over seeds with a 95% bootstrap CI band."
    ),
    "gradient_covariance": (
        "Cosine similarity between the per-example gradients of a probe batch (cf. Obando-"
        "Ceron et al. 2024, Fig. 14; Lyle et al. 2023): dense against each sparse method at its "
        "highest sparsity, the lowest seed with saved matrices, its latest saved probe. Blue: "
        "aligned gradients, red: opposed; paler maps mean less gradient interference."
    ),
}
TABLE_NOTE = (
    "Final diagnostics: each run's late-training value of each measure (the mean of its last "
    "10% of probes), then the mean over seeds with a 95% stratified-bootstrap CI (rliable). "
    "Numbers in diagnostics.csv."
)
TABLE_FILE = "diagnostics.csv"


class AnalysisSection(NamedTuple):
    """What the analysis section shows: figures by name (CAPTIONS' keys), the final
    diagnostics (`diagnostics.final_table`; empty without diagnostics) and its cells."""

    figures: dict[str, Figure]
    table: pd.DataFrame
    cells: pd.DataFrame


def analysis_section(
    directory: Path,
    groups: pd.DataFrame,
    evaluations: pd.DataFrame,
    *,
    reps: int = DEFAULT_REPS,
    seed: int = 0,
) -> AnalysisSection:
    """The analysis of the finished `groups` (`report.groups.finished_groups`) of the sweep in
    `directory`, from their evaluations (`results.load`), noise results and cosine files;
    `reps` bootstrap samples seeded by `seed`. Only what the data holds is drawn."""
    finished = evaluations[evaluations["run_id"].isin(groups["run_id"])]
    values = network_values(long_diagnostics(finished))
    drawn: dict[str, Figure | None] = {}
    table = pd.DataFrame()
    if not values.empty:
        curves = measure_curves(groups, values, reps=reps, seed=seed)
        drawn["diagnostics_over_training"] = analysis_figures.measures_over_training(curves)
        table = final_table(final_values(groups, values), reps=reps, seed=seed)
        drawn["snr_by_sparsity"] = analysis_figures.snr_by_sparsity(table)
    evaluated = any((Path(path) / EVAL_SETTINGS).is_file() for path in groups["path"])
    noise = load_noise(directory) if evaluated else pd.DataFrame(columns=["run_id"])
    noise = noise[noise["run_id"].isin(groups["run_id"])]
    if not noise.empty:
        curves = noise_curves(groups, noise, reps=reps, seed=seed)
        drawn["noise_robustness"] = analysis_figures.noise_robustness(curves)
    cosines = latest_cosines(groups)
    if cosines:
        drawn["gradient_covariance"] = analysis_figures.gradient_covariance(cosines)
    figures = {name: fig for name, fig in drawn.items() if fig is not None}
    return AnalysisSection(figures, table, table_cells(table))


def table_cells(table: pd.DataFrame) -> pd.DataFrame:
    """The final diagnostics as strings: one row per (env, setting, group, network), one
    'mean [low, high]' column per measure (MEASURES names, in their order); the setting
    column only when settings differ; empty for an empty table."""
    if table.empty:
        return pd.DataFrame()
    keys = ["env", "setting", "group", "network"]
    rows = []
    for key, own in table.groupby(keys, sort=False):
        row = dict(zip(keys, key, strict=True))
        row["seeds"] = str(own["seeds"].max())
        for measure in own.itertuples(index=False):
            row[MEASURES[measure.measure]] = interval(measure.mean, measure.low, measure.high)
        rows.append(row)
    columns = [*keys, "seeds", *(MEASURES[m] for m in MEASURES if m in set(table["measure"]))]
    cells = pd.DataFrame(rows).reindex(columns=columns).fillna("")
    return cells if (table["setting"] != "").any() else cells.drop(columns="setting")
