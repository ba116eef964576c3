"""The report's figures: IQM per sparsity (Graesser et al. Fig. 1), final return against parameter
count (their Fig. 2), learning curves and, when options vary, final return against each option;
each saved as PNG and SVG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers or CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import EngFormatter  # noqa: E402

from sparserl.report.groups import (  # noqa: E402
    AXIS_PREFIX,
    DENSE,
    MATCHED,
    axis_columns,
    axis_token,
)
from sparserl.report.scores import ALL_ENVS, scheme_names  # noqa: E402
from sparserl.report.style import line_styles, method_colours, method_key  # noqa: E402

PANEL_SIZE = (4.4, 3.4)  # inches per panel
MAX_COLUMNS = 3
DODGE = 0.07  # horizontal offset between methods at one sparsity, in category widths
# The (estimate, low, high) columns of the score table's two intervals.
SCORE = ("score_iqm", "score_low", "score_high")
RETURN = ("return_iqm", "return_low", "return_high")


def save(fig: Figure, directory: Path, name: str) -> list[Path]:
    """Write `fig` as NAME.png and NAME.svg in `directory` and close it; the two paths."""
    paths = [directory / f"{name}.png", directory / f"{name}.svg"]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1], metadata={"Date": None})  # no timestamp: same runs, same file
    plt.close(fig)
    return paths


def iqm_by_sparsity(table: pd.DataFrame) -> Figure:
    """Normalised-score IQM with 95% CIs per method at each sparsity, one panel over all envs
    (if aggregated) and one per env, per setting; groups without a sparsity (dense, a wider
    dense) are horizontal bands, sparse runs without a target level sit at the one reached."""
    panels = panel_keys(table)
    colours = method_colours(table["method"])
    fig, axes = panel_grid(len(panels))
    for ax, (env, setting) in zip(axes, panels, strict=False):
        rows = panel_rows(table, env, setting)
        draw_by_sparsity(ax, rows, colours, "method", SCORE)
        ax.set_ylabel("normalised score: IQM, 95% CI")
        ax.set_title(panel_title(env, setting, scheme_names(rows["scheme"].iloc[0])), fontsize=10)
    figure_legend(fig, axes)
    return fig


def return_vs_parameters(table: pd.DataFrame) -> Figure:
    """Final return (IQM, 95% CI) against parameter count per method, env and setting, each
    point marked with its sparsity; dense is a star with a dashed line, matched dense grey
    squares."""
    rows = table[table["env"] != ALL_ENVS]
    panels = panel_keys(rows)
    colours = method_colours(rows["method"])
    fig, axes = panel_grid(len(panels))
    for ax, (env, setting) in zip(axes, panels, strict=False):
        env_rows = panel_rows(rows, env, setting)
        for label, colour in colours.items():
            points = env_rows[env_rows["method"] == label].sort_values("parameters")
            if points.empty:
                continue
            ax.errorbar(
                points["parameters"],
                points["return_iqm"],
                yerr=error_bars(points, RETURN),
                color=colour,
                marker={DENSE: "*", MATCHED: "s"}.get(label, "o"),
                markersize=11 if label == DENSE else 6,
                linestyle=":" if label == MATCHED else "-",
                capsize=3,
                label=label,
            )
            if label == DENSE:
                ax.axhline(points["return_iqm"].iloc[0], color=colour, linestyle="--", lw=0.8)
            if label == MATCHED:  # it sits beside the sparse point it matches: no second label
                continue
            for _, point in points.iterrows():
                level = point["sparsity"]
                if pd.isna(level):
                    level = point["measured_sparsity"]
                if pd.isna(level):
                    continue
                ax.annotate(
                    f"{level:g}",
                    (point["parameters"], point["return_iqm"]),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=7,
                    color=colour,
                )
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.xaxis.set_minor_formatter(EngFormatter(sep=""))
        ax.tick_params(axis="x", which="both", labelsize=8)
        ax.set_xlabel("parameters (count, log scale)")
        ax.set_ylabel("final return: IQM over seeds, 95% CI")
        ax.set_title(panel_title(env, setting), fontsize=10)
    figure_legend(fig, axes)
    return fig


def learning_curves_figure(curves: pd.DataFrame) -> Figure:
    """Evaluation return against env steps, one panel per env and setting: colour per
    method, line style per sparsity, the mean over seeds with its 95% bootstrap CI shaded."""
    panels = panel_keys(curves)
    colours = method_colours(curves["label"])
    styles = line_styles(curves["sparsity"])
    fig, axes = panel_grid(len(panels))
    for ax, (env, setting) in zip(axes, panels, strict=False):
        draw_curves(ax, panel_rows(curves, env, setting), "step", colours, styles)
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.set_xlabel("environment steps")
        ax.set_ylabel("evaluation return: mean, 95% CI")
        ax.set_title(panel_title(env, setting), fontsize=10)
    figure_legend(fig, axes)
    return fig


def return_by_axis(table: pd.DataFrame) -> Figure | None:
    """Final return (IQM, 95% CI) against the value of each varying option or width (cf.
    Obando-Ceron et al. 2024, Fig. 1 and 5), one panel per option and env; a line joins the
    groups that differ only in that option. None when nothing varies."""
    rows = table[table["env"] != ALL_ENVS]
    panels = [
        (column, env)
        for column in axis_columns(rows)
        for env in sorted(rows["env"].unique())
        if rows.loc[rows["env"] == env, column].notna().any()
    ]
    if not panels:
        return None
    fig, axes = panel_grid(len(panels))
    styles = line_styles(rows["sparsity"])
    for ax, (column, env) in zip(axes, panels, strict=False):
        points = rows[(rows["env"] == env) & rows[column].notna()]
        tokens = [axis_token(column, value) for value in points[column]]
        points = points.assign(
            _series=[_without(group, t) for group, t in zip(points["group"], tokens, strict=True)],
            _colour=[_without(m, t) for m, t in zip(points["method"], tokens, strict=True)],
        )
        values = sorted(points[column].unique(), key=lambda v: (str(type(v)), v))
        colours = method_colours(points["_colour"])
        for series, line in points.groupby("_series", sort=True):
            line = line.assign(_x=[values.index(v) for v in line[column]]).sort_values("_x")
            first = line.iloc[0]
            ax.errorbar(
                line["_x"],
                line["return_iqm"],
                yerr=error_bars(line, RETURN),
                color=colours[first["_colour"]],
                linestyle=styles.get(first["sparsity"], "-"),
                marker="o",
                capsize=3,
                label=series,
            )
        ax.set_xticks(range(len(values)), [_tick(v) for v in values])
        ax.set_xlim(-0.5, len(values) - 0.5)
        ax.set_xlabel(column.removeprefix(AXIS_PREFIX))
        ax.set_ylabel("final return: IQM over seeds, 95% CI")
        ax.set_title(env, fontsize=10)
    figure_legend(fig, axes)
    return fig


def _without(name: str, token: str) -> str:
    """A group name or label without one of its space-separated tokens."""
    return " ".join(part for part in name.split(" ") if part != token) if token else name


def _tick(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def panel_keys(table: pd.DataFrame) -> list[tuple[str, str]]:
    """(env, setting) of every panel: all envs first, then each env; settings in order."""
    keys = sorted(set(zip(table["env"], table["setting"], strict=True)))
    return sorted(keys, key=lambda key: (key[0] != ALL_ENVS, key))


def panel_rows(table: pd.DataFrame, env: str, setting: str) -> pd.DataFrame:
    return table[(table["env"] == env) & (table["setting"] == setting)]


def panel_title(env: str, setting: str, note: str = "") -> str:
    """The panel title: env, then its setting and a note (the normalisation) if any."""
    lines = [env, setting, f"({note})" if note else ""]
    return "\n".join(line for line in lines if line)


def draw_by_sparsity(
    ax: plt.Axes,
    rows: pd.DataFrame,
    colours: dict[str, str],
    label: str,
    columns: tuple[str, str, str],
) -> None:
    """One panel's estimates (`columns`: estimate, low, high) per `label` value at each
    sparsity on a categorical axis, methods dodged apart; rows without a sparsity (dense, a
    wider dense) are horizontal lines with their CI band, sparse rows without a target level
    sit at the one reached."""
    estimate, low, high = columns
    rows = rows.assign(_x=rows["sparsity"].fillna(rows["measured_sparsity"]))
    levels = sorted(rows["_x"].dropna().unique())
    for _, line in rows[rows["_x"].isna()].iterrows():
        colour = colours[line[label]]
        style = "-" if line[label] == DENSE else "--"
        ax.axhline(line[estimate], color=colour, lw=1.2, ls=style, label=line[label])
        ax.axhspan(line[low], line[high], color=colour, alpha=0.1)
    points = rows.dropna(subset=["_x"])
    sparse = [name for name in colours if (points[label] == name).any()]
    for i, name in enumerate(sparse):
        own = points[points[label] == name].sort_values("_x")
        x = np.searchsorted(levels, own["_x"]) + DODGE * (i - (len(sparse) - 1) / 2)
        ax.errorbar(
            x,
            own[estimate],
            yerr=error_bars(own, columns),
            color=colours[name],
            marker="s" if name == MATCHED else "o",
            linestyle=":" if name == MATCHED else "-",
            capsize=3,
            label=name,
        )
    ax.set_xticks(range(len(levels)), [f"{s:g}" for s in levels])
    ax.set_xlim(-0.5, max(len(levels), 1) - 0.5)
    ax.set_xlabel("sparsity (fraction of weights removed)")


def draw_curves(
    ax: plt.Axes,
    curves: pd.DataFrame,
    position: str,
    colours: dict[str, str],
    styles: dict[float, str | tuple],
) -> None:
    """One line per group of `curves` (`curves.mean_curves` rows of one panel) against
    `position`, named 'group (n=seeds)', with its CI shaded; colour per label, line style per
    sparsity, groups in the methods' fixed order."""
    for group, curve in sorted(curves.groupby("group"), key=lambda item: _order(item[1])):
        first = curve.iloc[0]
        colour = colours[first["label"]]
        style = styles.get(first["sparsity"], "-")
        name = f"{group} (n={first['seeds']})"
        ax.plot(curve[position], curve["mean"], color=colour, linestyle=style, label=name)
        ax.fill_between(curve[position], curve["low"], curve["high"], color=colour, alpha=0.12)


def _order(rows: pd.DataFrame) -> tuple:
    first = rows.iloc[0]
    return method_key(first["label"]), np.nan_to_num(first["sparsity"], nan=-1.0)


def error_bars(points: pd.DataFrame, columns: tuple[str, str, str]) -> np.ndarray:
    """[2, n] distances from each estimate down to its CI's low end and up to its high end;
    `columns`: the (estimate, low, high) columns of `points`."""
    estimate, low, high = (points[c].to_numpy(float) for c in columns)
    return np.clip(np.stack([estimate - low, high - estimate]), 0.0, None)


def panel_grid(count: int) -> tuple[Figure, list[plt.Axes]]:
    """A figure with `count` panels in rows of at most MAX_COLUMNS; spare axes hidden."""
    columns = min(count, MAX_COLUMNS)
    rows = -(-count // columns)
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(PANEL_SIZE[0] * columns + 1.8, PANEL_SIZE[1] * rows),
        squeeze=False,
        layout="constrained",
    )
    flat = list(axes.flat)
    for ax in flat[count:]:
        ax.set_visible(False)
    for ax in flat[:count]:
        ax.grid(alpha=0.3)
    return fig, flat[:count]


def figure_legend(fig: Figure, axes: list[plt.Axes]) -> None:
    """One legend for the figure, right of the panels, each label once."""
    entries: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    fig.legend(entries.values(), entries.keys(), loc="outside right upper", fontsize=8)
