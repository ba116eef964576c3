"""One colour per method and one line style per sparsity, fixed so that every figure of every
report draws the same method the same way."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from sparserl.report.groups import DENSE, MATCHED

METHOD_COLOURS = {
    DENSE: "#000000",
    MATCHED: "#8c8c8c",
    "static": "#1f77b4",
    "prune": "#ff7f0e",
    "set": "#2ca02c",
    "rigl": "#d62728",
    "ds": "#9467bd",
    "lottery": "#8c564b",
}
# Methods not above (new ones) take these, in sorted order of their names.
SPARE_COLOURS = ("#e377c2", "#17becf", "#bcbd22", "#7f3c8d", "#11a579", "#3969ac")
LINE_STYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))
METHOD_ORDER = (DENSE, MATCHED, "static", "prune", "set", "rigl", "ds", "lottery")


def method_colours(labels: Iterable[str]) -> dict[str, str]:
    """{label: colour}: the fixed colour of each known method, spare colours for the rest."""
    labels = sorted(set(labels), key=method_key)
    unknown = [label for label in labels if label not in METHOD_COLOURS]
    spare = {label: SPARE_COLOURS[i % len(SPARE_COLOURS)] for i, label in enumerate(unknown)}
    return {label: METHOD_COLOURS.get(label, spare.get(label)) for label in labels}


def method_key(label: str) -> tuple[int, str]:
    """Sort key: dense, matched dense, then the sparse methods from the oldest idea."""
    order = METHOD_ORDER.index(label) if label in METHOD_ORDER else len(METHOD_ORDER)
    return order, label


def line_styles(sparsities: Iterable[float]) -> dict[float, str | tuple]:
    """{sparsity: line style}: solid for the lowest sparsity, then dashed, dotted, ..."""
    levels = sorted({float(s) for s in sparsities if pd.notna(s)})
    return {s: LINE_STYLES[i % len(LINE_STYLES)] for i, s in enumerate(levels)}
