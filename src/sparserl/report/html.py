"""The self-contained HTML page of a report: inline CSS, figures embedded as base64 PNG (with
links to the SVG files beside it), and the tables; nothing is fetched from elsewhere."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from sparserl.report.tables import html_table

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }
h1, h2 { font-weight: 600; } figure { margin: 1.5em 0; } img { max-width: 100%; }
figcaption { color: #444; font-size: 0.95em; max-width: 60em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f2f2f2; } tbody tr:nth-child(even) { background: #fafafa; }
"""


def figure_html(png: Path, svg: Path, caption: str) -> str:
    """A <figure> with the PNG embedded as base64, its caption and a link to the SVG file."""
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(png.stem)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)} "
        f'(<a href="{html.escape(svg.name)}">{html.escape(svg.name)}</a>)</figcaption></figure>\n'
    )


def page(title: str, intro: str, sections: list[tuple[str, str]]) -> str:
    """The whole page: `title`, an `intro` paragraph, then (heading, HTML body) sections."""
    body = "".join(f"<h2>{html.escape(head)}</h2>\n{content}" for head, content in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n<h1>{html.escape(title)}</h1>\n<p>{html.escape(intro)}</p>\n{body}"
        "</body>\n</html>\n"
    )


def section_table(cells: pd.DataFrame, note: str = "") -> str:
    """A table with an optional explanatory paragraph above it."""
    return (f"<p>{html.escape(note)}</p>\n" if note else "") + html_table(cells)
