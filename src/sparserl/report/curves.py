"""Learning curves from run directories: evaluation return against env steps, one line per
(method, sparsity) group, averaged over its seeds with the seeds' range shaded.

    python -m sparserl.report.curves RUNS_DIR OUT.png [--title T] [--metric eval_return]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on CI or servers

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def group_label(config: dict) -> str:
    """'dense' or '<method> <sparsity>' from a run's config.json."""
    if config["sparsity"] is None:
        return config["method"]
    return f"{config['method']} {config['sparsity']:g}"


def load_curves(runs_dir: Path, metric: str = "eval_return") -> pd.DataFrame:
    """One row per (run, evaluation): group, seed, step and `metric`, for every run directory
    under `runs_dir` with a config.json and a metrics.csv."""
    frames = []
    for config_path in sorted(runs_dir.glob("*/config.json")):
        metrics_path = config_path.with_name("metrics.csv")
        if not metrics_path.exists():
            continue
        config = json.loads(config_path.read_text())
        rows = pd.read_csv(metrics_path, usecols=["step", metric])
        rows["group"] = group_label(config)
        rows["seed"] = config["seed"]
        frames.append(rows)
    if not frames:
        raise FileNotFoundError(
            f"no run directories with config.json and metrics.csv in {runs_dir}"
        )
    return pd.concat(frames, ignore_index=True)


def summarize(curves: pd.DataFrame, metric: str = "eval_return") -> pd.DataFrame:
    """Mean, min, max and seed count of `metric` per group and step."""
    stats = curves.groupby(["group", "step"])[metric].agg(["mean", "min", "max", "count"])
    return stats.reset_index()


def plot(summary: pd.DataFrame, out: Path, title: str, metric: str = "eval_return") -> None:
    """Mean line and min-max band per group, written to `out` (format from its suffix)."""
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    for group, rows in summary.groupby("group"):
        seeds = int(rows["count"].min())
        line = ax.plot(rows["step"], rows["mean"], label=f"{group} ({seeds} seeds)")[0]
        ax.fill_between(rows["step"], rows["min"], rows["max"], color=line.get_color(), alpha=0.2)
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"{metric.replace('_', ' ')} (mean; band: min-max over seeds)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs_dir", type=Path)
    parser.add_argument("out", type=Path, help="figure file (.png, .svg, .pdf)")
    parser.add_argument("--title", default="")
    parser.add_argument("--metric", default="eval_return")
    args = parser.parse_args(argv)
    summary = summarize(load_curves(args.runs_dir, args.metric), args.metric)
    plot(summary, args.out, args.title, args.metric)
    print(summary.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
