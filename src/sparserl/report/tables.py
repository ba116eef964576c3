"""The report's tables as text: final scores with costs, and the runs left out of the scores;
rendered as Markdown or as HTML from the same cells so both documents show the same numbers."""

from __future__ import annotations

import html

import pandas as pd

from sparserl.report.scores import ALL_ENVS, scheme_names
from sparserl.report.style import method_key

SCORE_HEADERS = (
    "env",
    "method",
    "sparsity",
    "seeds",
    "final return IQM [95% CI]",
    "normalised IQM [95% CI]",
    "normalisation",
    "parameters",
    "inference FLOPs",
    "training FLOPs / example",
)


def interval(estimate: float, low: float, high: float) -> str:
    """'12.3 [10.1, 14.5]', or '' when there is no estimate."""
    if estimate is None or pd.isna(estimate):
        return ""
    return f"{number(estimate)} [{number(low)}, {number(high)}]"


def number(value: float) -> str:
    """3 significant digits below 100 ('0.819', '12.3'), whole numbers above ('2,371')."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def score_cells(table: pd.DataFrame) -> pd.DataFrame:
    """The score table as strings under SCORE_HEADERS (with a 'setting' column after env when
    settings differ): per env, then over all envs, settings in order, methods in their fixed
    order and rising sparsity."""
    order = table.assign(
        _env=table["env"] == ALL_ENVS,
        _method=table["method"].map(method_key),
        _sparsity=table["sparsity"].fillna(-1.0),
    ).sort_values(["_env", "env", "setting", "_method", "_sparsity"])
    rows = [
        (
            row["env"],
            row["method"],
            _sparsity(row["sparsity"], row["measured_sparsity"]),
            str(row["seeds"]),
            interval(row.get("return_iqm"), row.get("return_low"), row.get("return_high")),
            interval(row["score_iqm"], row["score_low"], row["score_high"]),
            scheme_names(row["scheme"]),
            _count(row.get("parameters")),
            _count(row.get("inference_flops")),
            _count(row.get("training_flops_per_example")),
        )
        for _, row in order.iterrows()
    ]
    cells = pd.DataFrame(rows, columns=list(SCORE_HEADERS))
    if (table["setting"] != "").any():
        cells.insert(1, "setting", order["setting"].to_numpy())
    return cells


def _sparsity(target: float, measured: float) -> str:
    """'0.9' for a target level, '0.47 (reached)' for a sparse group without one, else ''."""
    if not pd.isna(target):
        return f"{target:g}"
    return "" if pd.isna(measured) else f"{measured:g} (reached)"


def problem_cells(problems: pd.DataFrame) -> pd.DataFrame:
    """The runs left out of the scores, as strings: run, status, reason and what it was."""
    cells = problems.astype(object).where(problems.notna(), "")
    cells["sparsity"] = [f"{s:g}" if s != "" else "" for s in cells["sparsity"]]
    return cells.astype(str)


def markdown(cells: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of string cells ('|' escaped)."""
    lines = [
        _markdown_row(cells.columns),
        "|" + "|".join("---" for _ in cells.columns) + "|",
        *(_markdown_row(row) for row in cells.itertuples(index=False)),
    ]
    return "\n".join(lines) + "\n"


def html_table(cells: pd.DataFrame) -> str:
    """An HTML table of string cells, escaped."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cells.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in cells.itertuples(index=False)
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>{body}</tbody>\n</table>\n"


def _markdown_row(values) -> str:
    return "| " + " | ".join(str(v).replace("|", "\\|") for v in values) + " |"


def _count(value: float | None) -> str:
    """An integer count with thousands separators; '' when missing."""
    return "" if value is None or pd.isna(value) else f"{round(value):,}"
