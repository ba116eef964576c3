"""The figures of the report's analysis section: each probe measure over training (Obando-Ceron
et al. 2024, Fig. 11), gradient SNR against sparsity (Graesser et al. 2022, Fig. 5), return
under observation noise against σ per parameter budget (Graesser et al. 2022, Fig. 6) and
gradient cosine heat maps, dense against sparse (Obando-Ceron et al. 2024, Fig. 14)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter

from sparserl.report.diagnostics import MEASURES, CosineMatrix
from sparserl.report.figures import (
    PANEL_SIZE,
    draw_by_sparsity,
    draw_curves,
    figure_legend,
    panel_grid,
    panel_title,
)
from sparserl.report.style import line_styles, method_colours
from sparserl.rundir.schema import GRADIENT_SNR

MEASURE_COLUMNS = 4  # panels per row of the measures over training
HEAT_MAP_SIZE = 2.8  # inches per heat map
# Obando-Ceron et al. 2024, Fig. 14: red for negative, blue for positive correlation.
COSINE_COLOURS = "RdBu"


def measures_over_training(curves: pd.DataFrame) -> Figure:
    """A block of panels per (env, setting, network), its measures in MEASURES order in rows of
    MEASURE_COLUMNS (measures it lacks, e.g. an actor's Q statistics, left out); in each, the
    mean of every group over seeds with its 95% CI band."""
    blocks = []
    for key, own in curves.groupby(["env", "setting", "network"], sort=True):
        measures = [m for m in MEASURES if (own["measure"] == m).any()]
        lines = [
            measures[i : i + MEASURE_COLUMNS] for i in range(0, len(measures), MEASURE_COLUMNS)
        ]
        blocks += [(key, own, line) for line in lines]
    columns = max(len(line) for _, _, line in blocks)
    fig, axes = _grid(len(blocks), columns, PANEL_SIZE)
    colours = method_colours(curves["label"])
    styles = line_styles(curves["sparsity"])
    drawn = []
    for ((env, setting, network), own, line), row in zip(blocks, axes, strict=True):
        for ax in row[len(line) :]:
            ax.set_visible(False)
        for measure, ax in zip(line, row, strict=False):
            draw_curves(ax, own[own["measure"] == measure], "step", colours, styles)
            ax.xaxis.set_major_formatter(EngFormatter(sep=""))
            ax.set_xlabel("environment steps")
            ax.set_ylabel(f"{MEASURES[measure]}: mean, 95% CI")
            ax.set_title(panel_title(env, setting, network), fontsize=10)
            drawn.append(ax)
    figure_legend(fig, drawn)
    return fig


def snr_by_sparsity(table: pd.DataFrame) -> Figure | None:
    """Late-training gradient SNR (mean over seeds, 95% CI) per method at each sparsity, one
    panel per (env, setting, network), so actor and critic apart; groups without a sparsity
    (dense) are horizontal lines with their CI band. None without SNR values at any
    sparsity."""
    snr = table[table["measure"] == GRADIENT_SNR]
    if snr["sparsity"].fillna(snr["measured_sparsity"]).isna().all():
        return None
    panels = sorted(set(zip(snr["env"], snr["setting"], snr["network"], strict=True)))
    colours = method_colours(snr["label"])
    fig, axes = panel_grid(len(panels))
    for ax, (env, setting, network) in zip(axes, panels, strict=True):
        rows = snr[(snr["env"] == env) & (snr["setting"] == setting) & (snr["network"] == network)]
        draw_by_sparsity(ax, rows, colours, "label", ("mean", "low", "high"))
        ax.set_ylabel("gradient SNR, late training: mean, 95% CI")
        ax.set_yscale("log")
        ax.set_title(panel_title(env, setting, network), fontsize=10)
    figure_legend(fig, axes)
    return fig


def noise_robustness(curves: pd.DataFrame) -> Figure:
    """Return under observation noise against σ, one panel per (env, setting, parameter
    budget), largest budget first: the mean of every group over seeds with its 95% CI."""
    panels = sorted(
        set(zip(curves["env"], curves["setting"], curves["budget"], strict=True)),
        key=lambda key: (key[0], key[1], -key[2]),
    )
    colours = method_colours(curves["label"])
    styles = line_styles(curves["sparsity"])
    fig, axes = panel_grid(len(panels))
    for ax, (env, setting, budget) in zip(axes, panels, strict=True):
        own = curves[
            (curves["env"] == env) & (curves["setting"] == setting) & (curves["budget"] == budget)
        ]
        draw_curves(ax, own, "sigma", colours, styles)
        ax.set_xlabel("observation noise σ")
        ax.set_ylabel("return: mean over seeds, 95% CI")
        ax.set_title(panel_title(env, setting, f"{budget:.0%} of dense parameters"), fontsize=10)
    figure_legend(fig, axes)
    return fig


def gradient_covariance(matrices: list[CosineMatrix]) -> Figure:
    """One row of heat maps per (env, setting, network), one per group in it (dense first):
    the cosine similarity of every pair of per-example gradients, from -1 (red) to 1 (blue)."""
    rows: dict[tuple[str, str, str], list[CosineMatrix]] = {}
    for cosine in matrices:
        rows.setdefault((cosine.env, cosine.setting, cosine.network), []).append(cosine)
    columns = max(len(line) for line in rows.values())
    fig, axes = _grid(len(rows), columns, (HEAT_MAP_SIZE, HEAT_MAP_SIZE))
    image = None
    for line, ax_line in zip(rows.values(), axes, strict=True):
        for i, ax in enumerate(ax_line):
            if i >= len(line):
                ax.set_visible(False)
                continue
            cosine = line[i]
            image = ax.imshow(cosine.matrix, cmap=COSINE_COLOURS, vmin=-1.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            note = f"{cosine.network}, seed {cosine.seed}, step {cosine.step:,}"
            ax.set_title(
                panel_title(cosine.env, cosine.setting, note) + f"\n{cosine.group}", fontsize=8
            )
    fig.colorbar(image, ax=[ax for line in axes for ax in line], label="gradient cosine")
    return fig


def _grid(rows: int, columns: int, size: tuple[float, float]) -> tuple[Figure, list[list]]:
    """A figure of rows x columns panels of `size` inches (room on the right for a legend);
    the axes as a list of rows."""
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(size[0] * columns + 1.8, size[1] * rows),
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    return fig, [list(line) for line in axes]
