"""`sparserl report DIR`: load a sweep's runs, score the finished ones, and write the figures
(PNG and SVG), a self-contained index.html and a Markdown summary into one directory; with an
analysis section when the runs recorded diagnostics, noise results or gradient cosines."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sparserl.report import figures, html, tables
from sparserl.report.analysis import CAPTIONS, TABLE_FILE, TABLE_NOTE, analysis_section
from sparserl.report.curves import learning_curves
from sparserl.report.groups import GroupError, finished_groups, unfinished
from sparserl.report.scores import score_table
from sparserl.results import load
from sparserl.stats import DEFAULT_REPS

FIGURES = {
    "iqm_by_sparsity": (
        "Normalised final score per method at each sparsity (cf. Graesser et al. 2022, Fig. 1): "
        "interquartile mean over seeds (and envs, in 'all envs') with 95% stratified-bootstrap "
        "CIs. Dense is the black line and band; parameter-matched dense is grey; other groups "
        "without a sparsity (a wider dense) are dashed bands. Sparse runs with no target "
        "sparsity (DS/Static with ER lambdas) sit at the sparsity they reached, rounded to 2 "
        "decimals ('all envs': the mean over envs)."
    ),
    "return_vs_parameters": (
        "Final return against parameter count (cf. Graesser et al. 2022, Fig. 2): IQM over seeds "
        "with 95% CIs; numbers give the sparsity, the star and dashed line the dense network, "
        "grey squares the dense network narrowed to the sparse parameter count."
    ),
    "learning_curves": (
        "Evaluation return during training: mean over seeds with a 95% bootstrap CI band; "
        "colour is the method, line style the sparsity."
    ),
    "return_by_axis": (
        "Final return against each option that varies between runs (a sweep axis, a swept "
        "value or the width): IQM over seeds with 95% CIs; a line joins the groups that differ "
        "only in that option. Drawn only when an option varies."
    ),
}
SCORES_NOTE = (
    "Final return: each run's summary score, the mean return of its last 10% of evaluations "
    "(the papers' protocol). Normalised per env family: "
    "relative to dense (of the same setting: agent, agent options) for MuJoCo and MinAtar, "
    "min-max (random policy = 0, best return = 1) for "
    "classic control, human-normalised for Atari. IQM and 95% stratified-bootstrap CIs by "
    "rliable; 'all envs' pools the normalised scores of the groups that ran every env. "
    "A group is the runs that share every dimension that varies between runs (agent, preset, "
    "method, distribution, width, options, sparsity); names show only those. "
    "A sparsity marked 'reached' is the one the runs measured (no target level). "
    "FLOPs: per example for a forward pass (inference) and for training (forward and backward, "
    "RigL's accounting), counting nonzero kernel weights, a multiply-add as 2."
)


class ReportError(ValueError):
    """A directory with nothing to report (no runs, no finished run), or with one run twice."""


def write_report(
    directory: str | Path,
    out: str | Path | None = None,
    *,
    reps: int = DEFAULT_REPS,
    seed: int = 0,
) -> Path:
    """Write the report of the runs under `directory` into `out` (default DIRECTORY/report) and
    return the path of its index.html; `reps` bootstrap samples, seeded by `seed`."""
    directory = Path(directory)
    runs, evaluations = load(directory)
    if runs.empty:
        raise ReportError(f"no run directories under {directory}")
    try:
        groups = finished_groups(runs)
    except GroupError as error:
        raise ReportError(str(error)) from None
    if groups.empty:
        counts = ", ".join(f"{n} {s}" for s, n in runs["status"].value_counts().items())
        raise ReportError(f"no finished runs under {directory} to score ({counts})")
    table = score_table(groups, reps=reps, seed=seed)  # refuses a bad `reps`, `seed`
    curves = learning_curves(groups, evaluations, reps=reps, seed=seed)
    drawn = {
        "iqm_by_sparsity": figures.iqm_by_sparsity(table),
        "return_vs_parameters": figures.return_vs_parameters(table),
        "learning_curves": figures.learning_curves_figure(curves),
        "return_by_axis": figures.return_by_axis(table),
    }
    drawn = {name: fig for name, fig in drawn.items() if fig is not None}
    analysis = analysis_section(directory, groups, evaluations, reps=reps, seed=seed)
    out = Path(out) if out is not None else directory / "report"
    out.mkdir(parents=True, exist_ok=True)  # only once everything is computed
    saved = {name: figures.save(fig, out, name) for name, fig in drawn.items()}
    analysed = {name: figures.save(fig, out, name) for name, fig in analysis.figures.items()}
    score_cells = tables.score_cells(table)
    problem_cells = tables.problem_cells(unfinished(runs))
    table.to_csv(out / "scores.csv", index=False)
    if not analysis.table.empty:
        analysis.table.to_csv(out / TABLE_FILE, index=False)

    intro = _intro(directory, runs)
    analysis_text = _analysis_markdown(analysed, analysis.cells)
    (out / "summary.md").write_text(
        _markdown(intro, saved, score_cells, problem_cells, analysis_text)
    )
    sections = _figure_sections(saved, FIGURES)
    sections.append(("final scores and costs", html.section_table(score_cells, SCORES_NOTE)))
    sections += _figure_sections(analysed, CAPTIONS)
    if not analysis.cells.empty:
        sections.append(("final diagnostics", html.section_table(analysis.cells, TABLE_NOTE)))
    sections.append(("runs not scored", _problems_html(problem_cells)))
    index = out / "index.html"
    index.write_text(html.page(f"sparserl report: {directory.name}", intro, sections))
    return index


def _intro(directory: Path, runs: pd.DataFrame) -> str:
    counts = ", ".join(f"{n} {s}" for s, n in runs["status"].value_counts().items())
    envs = ", ".join(sorted(runs["env"].dropna().unique()))
    return (
        f"{len(runs)} runs under {directory} ({counts}) on {envs}; only finished runs are scored."
    )


def _figure_sections(
    saved: dict[str, list[Path]], captions: dict[str, str]
) -> list[tuple[str, str]]:
    """(heading, HTML) of each saved figure, with its caption."""
    return [
        (name.replace("_", " "), html.figure_html(png, svg, captions[name]))
        for name, (png, svg) in saved.items()
    ]


def _analysis_markdown(saved: dict[str, list[Path]], cells: pd.DataFrame) -> str:
    """The analysis part of the Markdown summary: its figure files and the final diagnostics;
    nothing when the runs recorded no diagnostics, noise results or cosine matrices."""
    if not saved and cells.empty:
        return ""
    parts = ["\n## Analysis\n\n"]
    for name, (png, svg) in saved.items():
        parts.append(f"- `{png.name}`, `{svg.name}`: {CAPTIONS[name]}\n")
    if not cells.empty:
        parts.append(f"\n### Final diagnostics\n\n{TABLE_NOTE}\n\n{tables.markdown(cells)}")
    return "".join(parts)


def _problems_html(cells: pd.DataFrame) -> str:
    if cells.empty:
        return "<p>Every run finished.</p>\n"
    return html.section_table(cells, "Left out of every score and figure:")


def _markdown(
    intro: str,
    saved: dict[str, list[Path]],
    scores: pd.DataFrame,
    problems: pd.DataFrame,
    analysis: str,
) -> str:
    """The Markdown summary: the intro, the figure files, the score table, the `analysis`
    part and skipped runs."""
    parts = [f"# sparserl report\n\n{intro}\n\n## Figures\n"]
    for name, (png, svg) in saved.items():
        parts.append(f"- `{png.name}`, `{svg.name}`: {FIGURES[name]}\n")
    parts.append(f"\n## Final scores and costs\n\n{SCORES_NOTE}\n\n{tables.markdown(scores)}")
    parts.append(analysis)
    parts.append("\n## Runs not scored\n\n")
    parts.append(tables.markdown(problems) if len(problems) else "Every run finished.\n")
    return "".join(parts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `sparserl report` (shared by the CLI and `python -m sparserl.report`)."""
    parser.add_argument("directory", type=Path, help="a sweep or runs directory")
    parser.add_argument("--out", type=Path, help="report directory (default: DIRECTORY/report)")
    parser.add_argument("--reps", type=int, default=DEFAULT_REPS, help="bootstrap samples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")


def run(args: argparse.Namespace) -> int:
    """Write the report of parsed arguments; print its index path, or the error."""
    try:
        index = write_report(args.directory, args.out, reps=args.reps, seed=args.seed)
    except (ValueError, FileNotFoundError) as error:  # ReportError, or runs stats refuses
        print(f"sparserl report: error: {error}", file=sys.stderr)
        return 1
    print(index)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: `sparserl report DIR [--out OUT] [--reps N] [--seed S]`."""
    parser = argparse.ArgumentParser(prog="sparserl report", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
