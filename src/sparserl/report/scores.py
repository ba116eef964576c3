"""Final scores of the finished runs, normalised per environment family, and their IQM with 95%
stratified-bootstrap CIs per group, per env and over all envs (through sparserl.stats)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sparserl.envs import ENVS
from sparserl.report.groups import MEASURED_DECIMALS, axis_columns
from sparserl.stats import DEFAULT_REPS, atari_game, interval_estimates, normalize, score_matrices

ALL_ENVS = "all envs"
# env family -> normalisation scheme: dense-relative for MuJoCo and MinAtar (as Graesser et al.),
# min-max between random and best return for classic control; Atari ids are human-normalised.
FAMILY_SCHEMES = {"mujoco": "dense", "minatar": "dense", "classic_control": "min_max"}
SCHEME_NAMES = {
    "dense": "relative to dense",
    "min_max": "min-max: random 0, best 1",
    "human": "human-normalised",
    "none": "raw return",
}
COST_COLUMNS = ("parameters", "inference_flops", "training_flops_per_example")
# What names a group besides its scores, copied into each of its table rows.
GROUP_COLUMNS = ("setting", "method", "sparsity", "measured_sparsity")


def scheme_names(schemes: str) -> str:
    """Readable names of a table's scheme cell ('min_max' or, over all envs, 'dense; min_max')."""
    return "; ".join(SCHEME_NAMES.get(scheme, scheme) for scheme in schemes.split("; "))


def scheme_for(env: str) -> str:
    """The normalisation scheme of `env`'s family: human-normalised for Atari games with
    reference scores (also ids not registered here), raw returns for other Atari games and
    envs of no known family."""
    if env in ENVS and ENVS[env].family != "atari":
        return FAMILY_SCHEMES.get(ENVS[env].family, "none")
    try:
        atari_game(env)
    except ValueError:
        return "none"
    return "human"


def final_scores(groups: pd.DataFrame) -> pd.DataFrame:
    """One row per finished run: env, group, setting, method (its label), sparsity,
    measured_sparsity, the axis columns, seed, `return` (final return), `score` (normalised by
    its env's scheme, relative to dense within each setting) and `scheme`. An env whose scheme
    cannot apply (e.g. a setting with no dense runs to divide by) keeps raw returns, with
    scheme 'none'."""
    columns = ["env", "group", "setting", "label", "sparsity", "measured_sparsity", "seed"]
    table = groups[[*columns, *axis_columns(groups), "final_return"]].rename(
        columns={"label": "method", "final_return": "score"}
    )
    table["return"] = table["score"]
    parts = []
    for env, rows in table.groupby("env", sort=True):
        scheme = scheme_for(env)
        try:
            part = pd.concat([normalize(r, scheme) for _, r in rows.groupby("setting")])
        except ValueError:
            scheme, part = "none", rows.copy()
        part["scheme"] = scheme
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def score_table(groups: pd.DataFrame, *, reps: int = DEFAULT_REPS, seed: int = 0) -> pd.DataFrame:
    """One row per (env, group), then per group over all envs (groups run on every env with
    equal seeds): seeds, costs, and IQM with low/high CI of the return and normalised score."""
    scores = final_scores(groups)
    costs = groups.groupby(["env", "group"])[list(COST_COLUMNS)].median()
    named = [*GROUP_COLUMNS, *axis_columns(scores)]
    rows = []
    for env, env_scores in scores.groupby("env", sort=True):
        normalised = _iqm(score_matrices(env_scores, "group"), reps=reps, seed=seed)
        returns = _iqm(
            score_matrices(env_scores.assign(score=env_scores["return"]), "group"),
            reps=reps,
            seed=seed,
        )
        for group, group_rows in env_scores.groupby("group"):
            first = group_rows.iloc[0]
            rows.append(
                {
                    "env": env,
                    "group": group,
                    **first[named].to_dict(),
                    "seeds": len(group_rows),
                    "scheme": first["scheme"],
                    **costs.loc[(env, group)].to_dict(),
                    **_prefixed("return", returns.loc[group]),
                    **_prefixed("score", normalised.loc[group]),
                }
            )
    rows += _aggregate_rows(scores, named, reps=reps, seed=seed)
    return pd.DataFrame(rows)


def aggregate_matrices(scores: pd.DataFrame) -> dict[str, np.ndarray]:
    """{group: [seeds, envs] normalised scores} for the groups that ran every env of `scores`
    with the same number of seeds on each; the others cannot be aggregated by rliable."""
    envs = set(scores["env"])
    matrices = {}
    for group, rows in scores.groupby("group", sort=True):
        if set(rows["env"]) != envs:
            continue
        try:
            matrices[group] = score_matrices(rows, "group")[group]
        except ValueError:
            continue
    return matrices


def _aggregate_rows(scores: pd.DataFrame, named: list[str], *, reps: int, seed: int) -> list[dict]:
    """Rows over all envs, when there are several envs and a group that ran all of them; a
    measured sparsity is the mean of the envs' (each env has its own ER lambdas)."""
    if scores["env"].nunique() < 2:
        return []
    matrices = aggregate_matrices(scores)
    if not matrices:
        return []
    estimates = _iqm(matrices, reps=reps, seed=seed)
    schemes = "; ".join(sorted(set(scores["scheme"])))
    rows = []
    for group, matrix in matrices.items():
        group_rows = scores[scores["group"] == group]
        first = group_rows.iloc[0]
        rows.append(
            {
                "env": ALL_ENVS,
                "group": group,
                **first[named].to_dict(),
                "measured_sparsity": round(
                    group_rows["measured_sparsity"].mean(), MEASURED_DECIMALS
                ),
                "seeds": matrix.shape[0],
                "scheme": schemes,
                **_prefixed("score", estimates.loc[group]),
            }
        )
    return rows


def _iqm(matrices: dict[str, np.ndarray], *, reps: int, seed: int) -> pd.DataFrame:
    """IQM estimate, low and high per group, indexed by group."""
    estimates = interval_estimates(matrices, ["iqm"], reps=reps, seed=seed)
    return estimates.set_index("algorithm")[["estimate", "low", "high"]]


def _prefixed(prefix: str, row: pd.Series) -> dict[str, float]:
    return {
        f"{prefix}_iqm": row["estimate"],
        f"{prefix}_low": row["low"],
        f"{prefix}_high": row["high"],
    }
