"""The sweep report: files written, runs grouped and labelled, unfinished runs listed but never
scored, and the table's IQMs equal to sparserl.stats on the same score matrices."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sparserl.report import ReportError, figures, main, write_report
from sparserl.report.groups import finished_groups
from sparserl.report.scores import final_scores, scheme_for, score_table
from sparserl.report.tables import interval
from sparserl.results import load
from sparserl.stats import interval_estimates, normalize, score_matrices

REPS = 100
SEED = 7
HEADER = "step,eval_return,train_return,loss,parameters,sparsity,wall_s"
# group -> (method, sparsity, width, parameters, match_sparsity)
GROUPS = {
    "dense": ("dense", None, 1.0, 1000, None),
    "dense (matched) 0.9": ("dense", None, 0.3, 105, 0.9),
    "rigl 0.5": ("rigl", 0.5, 1.0, 520, None),
    "rigl 0.9": ("rigl", 0.9, 1.0, 100, None),
}
ENVS = {"CartPole-v1": (22.2, 500.0), "Acrobot-v1": (-498.8, 0.0)}  # min-max range


def _final_return(env: str, group: str, seed: int) -> float:
    """A made-up final return, different for every run and inside the env's range."""
    low, high = ENVS[env]
    fraction = 0.2 + 0.15 * list(GROUPS).index(group) + 0.07 * seed**2
    return round(low + fraction * (high - low), 1)


def _run(
    root,
    env,
    method,
    sparsity,
    seed,
    *,
    width=1.0,
    parameters=1000,
    final=1.0,
    summary=None,
    match=None,
    distribution=None,
    agent="dqn",
    agent_options=None,
    method_options=None,
    actor_fraction=None,
):
    """A run directory as `sparserl train --out` writes it: 4000 steps, evaluated every 1000;
    `agent_options` and `method_options` go into its agent and method configs."""
    run = root / f"{method}_{sparsity}_w{width}_seed{seed}"
    run.mkdir(parents=True)
    agent_config = {"hidden": [16, 16], "width": width, "gamma": 0.99, "replay_ratio": 0.25}
    config = {
        "agent": agent,
        "env": env,
        "method": method,
        "seed": seed,
        "sparsity": sparsity,
        "match_sparsity": match,
        "actor_fraction": actor_fraction,
        "steps": 4000,
        "eval_interval": 1000,
        "preset": "classic_control",
        "agent_config": {**agent_config, **(agent_options or {})},
        "method_config": {"distribution": distribution, **(method_options or {})},
    }
    (run / "config.json").write_text(json.dumps(config))
    returns = [final * f for f in (0.25, 0.5, 0.75, 1.0)]
    rows = [f"{1000 * (i + 1)},{r},{r},0.1,{parameters},0.5,1.0" for i, r in enumerate(returns)]
    (run / "metrics.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    summary = summary or {
        "status": "finished",
        "final_return": final,
        "evaluations": 4,
        "parameters": parameters,
        "sparsity": 1 - parameters / 1000,
        "dense_parameters": 1000,
        "inference_flops": 2 * parameters,
        "training_flops_per_example": 6.0 * parameters,
        "finite_loss": True,
    }
    (run / "summary.json").write_text(json.dumps(summary))
    return run


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """2 envs x (dense, matched dense, rigl 0.5, rigl 0.9) x 3 seeds, plus one failed and one
    corrupt rigl 0.9 run (seeds 3, 4) that would change the scores if they were used; its report
    is written once (into SWEEP/report) for the tests below to read."""
    root = tmp_path_factory.mktemp("report") / "sweep"
    root.mkdir()
    (root / "sweep.yaml").write_text("agent: dqn\n")
    for env in ENVS:
        for group, (method, sparsity, width, parameters, match) in GROUPS.items():
            for seed in range(3):
                sizes = {"width": width, "parameters": parameters, "match": match}
                final = _final_return(env, group, seed)
                folder = root / f"{env}_{group.replace(' ', '_')}"
                _run(folder, env, method, sparsity, seed, final=final, **sizes)
    failed = {"status": "failed", "reason": "non-finite loss at step 2000"}
    _run(root / "broken", "CartPole-v1", "rigl", 0.9, 3, summary=failed, final=1e6)
    corrupt = _run(root / "broken", "Acrobot-v1", "rigl", 0.9, 4, final=1e6)
    metrics = corrupt / "metrics.csv"
    metrics.write_text(metrics.read_text()[:-5])  # cut mid-row, as a crash mid-copy would
    assert write_report(root, reps=REPS, seed=SEED) == root / "report" / "index.html"
    return root


def test_report_writes_html_figures_and_markdown(sweep):
    out = sweep / "report"
    for name in ("iqm_by_sparsity", "return_vs_parameters", "learning_curves"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / f"{name}.svg").read_text().rstrip().endswith("</svg>")
    page = (out / "index.html").read_text()
    assert page.count('src="data:image/png;base64,') == 3  # figures embedded
    assert "<script" not in page and "<link" not in page and "http" not in page.split("<body>")[0]
    assert "<table>" in page and "final return IQM [95% CI]" in page
    summary = (out / "summary.md").read_text()
    for name in ("iqm_by_sparsity.png", "return_vs_parameters.svg", "learning_curves.png"):
        assert name in summary
    for env in (*ENVS, "all envs"):
        assert f"| {env} | dense |  | 3 |" in summary
        assert f"| {env} | dense (matched) | 0.9 | 3 |" in summary
        assert f"| {env} | rigl | 0.5 | 3 |" in summary
        assert f"| {env} | rigl | 0.9 | 3 |" in summary
    assert "| CartPole-v1 | rigl | 0.9 | 3 |" in summary and "| 100 | 200 | 600 |" in summary


def test_unfinished_runs_are_listed_but_never_scored(sweep):
    page = (sweep / "report" / "index.html").read_text()
    summary = (sweep / "report" / "summary.md").read_text()
    scored, unscored = summary.split("## Runs not scored")
    for text in (unscored, page):
        assert "broken/rigl_0.9_w1.0_seed3" in text and "non-finite loss at step 2000" in text
        assert "broken/rigl_0.9_w1.0_seed4" in text and "metrics.csv: truncated" in text
    assert "failed" in unscored and "corrupt" in unscored
    table = pd.read_csv(sweep / "report" / "scores.csv")
    assert (table["seeds"] == 3).all()  # seeds 3 and 4 are the broken runs
    assert table["return_high"].max() < 500  # their 1e6 returns are nowhere


def _expected_scores() -> pd.DataFrame:
    """The sweep's final scores, min-max normalised, built from the made-up returns directly."""
    rows = [
        (env, group, GROUPS[group][1], seed, _final_return(env, group, seed))
        for env in ENVS
        for group in GROUPS
        for seed in range(3)
    ]
    table = pd.DataFrame(rows, columns=["env", "group", "sparsity", "seed", "score"])
    table["method"] = table["group"]  # matched dense must not count as the dense reference
    return normalize(table, "min_max")


def test_table_iqms_equal_interval_estimates_on_the_same_matrices(sweep):
    table = pd.read_csv(sweep / "report" / "scores.csv").set_index(["env", "group"])
    summary = (sweep / "report" / "summary.md").read_text()
    scores = _expected_scores()
    per_env = {env: score_matrices(scores[scores["env"] == env], "group") for env in ENVS}
    expected = {**per_env, "all envs": score_matrices(scores, "group")}
    for env, matrices in expected.items():
        estimates = interval_estimates(matrices, ["iqm"], reps=REPS, seed=SEED)
        for _, row in estimates.iterrows():
            ours = table.loc[(env, row["algorithm"])]
            got = ours[["score_iqm", "score_low", "score_high"]].to_numpy(float)
            np.testing.assert_allclose(got, row[["estimate", "low", "high"]].to_numpy(float))
            assert interval(row["estimate"], row["low"], row["high"]) in summary
    raw = table.loc[("CartPole-v1", "rigl 0.9")]
    returns = [_final_return("CartPole-v1", "rigl 0.9", seed) for seed in range(3)]
    assert raw["return_iqm"] == pytest.approx(np.mean(returns))  # IQM of 3 runs: their mean


def test_matched_dense_is_labelled_and_kept_out_of_the_dense_reference(tmp_path):
    for seed, final in enumerate((100.0, 200.0)):
        _run(tmp_path, "HalfCheetah-v5", "dense", None, seed, final=final)
        _run(
            tmp_path,
            "HalfCheetah-v5",
            "dense",
            None,
            seed,
            width=0.3,
            parameters=99,
            final=900,
            match=0.9,
        )
        _run(tmp_path / "wide", "HalfCheetah-v5", "dense", None, seed, width=3.0, final=2000)
        _run(tmp_path, "HalfCheetah-v5", "rigl", 0.9, seed, parameters=100, final=60.0)
    groups = finished_groups(load(tmp_path).runs)
    # a wider dense network that is not parameter-matched is its own group
    assert sorted(set(groups["group"])) == ["dense", "dense (matched) 0.9", "dense x3", "rigl 0.9"]
    scores = final_scores(groups).groupby("group")["score"].mean()
    assert scores["dense"] == pytest.approx(1.0)  # divided by the mean of the width-1 runs only
    assert scores["dense (matched) 0.9"] == pytest.approx(900 / 150)
    assert scores["rigl 0.9"] == pytest.approx(60 / 150)


def test_nothing_to_report_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(ReportError, match="no run directories under"):
        write_report(tmp_path)
    failed = {"status": "failed", "reason": "out of memory"}
    _run(tmp_path, "CartPole-v1", "rigl", 0.9, 0, summary=failed)
    with pytest.raises(ReportError, match=r"no finished runs under .* \(1 failed\)"):
        write_report(tmp_path)
    assert main([str(tmp_path)]) == 1
    assert "no finished runs" in capsys.readouterr().err
    assert main([str(tmp_path / "nowhere")]) == 1


def test_main_writes_the_report_where_asked(tmp_path, capsys):
    for seed in range(2):
        _run(tmp_path / "runs", "HalfCheetah-v5", "dense", None, seed, final=100.0 + seed)
        _run(tmp_path / "runs", "HalfCheetah-v5", "rigl", 0.9, seed, parameters=100, final=50.0)
    out = tmp_path / "elsewhere"
    assert main([str(tmp_path / "runs"), "--out", str(out), "--reps", "20"]) == 0
    assert capsys.readouterr().out.strip() == str(out / "index.html")
    summary = (out / "summary.md").read_text()
    assert "| HalfCheetah-v5 | rigl | 0.9 | 2 |" in summary and "relative to dense" in summary
    assert "| all envs |" not in summary  # one env: nothing to aggregate


def test_groups_differ_by_distribution_and_width(tmp_path):
    for seed in range(2):
        _run(tmp_path / "erk", "CartPole-v1", "rigl", 0.9, seed, distribution="erk")
        _run(tmp_path / "uni", "CartPole-v1", "rigl", 0.9, seed, distribution="uniform")
        _run(tmp_path / "wide", "CartPole-v1", "set", 0.9, seed, width=3.0, distribution="erk")
    groups = finished_groups(load(tmp_path).runs)
    # ERK is RigL's default: no suffix; uniform and a wider network are separate groups
    assert sorted(set(groups["group"])) == ["rigl (uniform) 0.9", "rigl 0.9", "set x3 0.9"]


@pytest.mark.parametrize(
    "env, scheme",
    [
        ("ALE/Pong-v5", "human"),  # registered Atari game with reference scores
        ("PongNoFrameskip-v4", "human"),  # an Atari id from another protocol
        ("ALE/Carnival-v5", "none"),  # one of the 60 games without a human score
        ("CartPole-v1", "min_max"),
        ("HalfCheetah-v5", "dense"),
        ("SomethingElse-v0", "none"),
    ],
)
def test_normalisation_scheme_per_environment(env, scheme):
    assert scheme_for(env) == scheme


def _figure_text(fig) -> dict[str, list[str]]:
    """The legend entries, panel titles and x tick labels of a figure."""
    axes = [ax for ax in fig.axes if ax.get_visible()]
    return {
        "legend": [t.get_text() for legend in fig.legends for t in legend.get_texts()],
        "titles": [ax.get_title() for ax in axes],
        "ticks": [t.get_text() for ax in axes for t in ax.get_xticklabels()],
    }


def test_two_agents_on_one_env_are_two_settings(tmp_path):
    """Issue 14, item 1: a sweep of [dqn, rainbow] on one env is reported, each agent's
    sparse runs scored relative to its own dense runs."""
    for agent, dense, rigl in (("dqn", 100.0, 50.0), ("rainbow", 200.0, 300.0)):
        for seed in range(2):
            _run(tmp_path / agent, "HalfCheetah-v5", "dense", None, seed, final=dense, agent=agent)
            _run(tmp_path / agent, "HalfCheetah-v5", "rigl", 0.9, seed, final=rigl, agent=agent)
    groups = finished_groups(load(tmp_path).runs)
    assert sorted(set(groups["group"])) == [
        "dqn dense",
        "dqn rigl 0.9",
        "rainbow dense",
        "rainbow rigl 0.9",
    ]
    assert set(groups["label"]) == {"dense", "rigl"}
    scores = final_scores(groups).groupby("group")["score"].mean()
    assert scores.to_dict() == pytest.approx(
        {"dqn dense": 1.0, "dqn rigl 0.9": 0.5, "rainbow dense": 1.0, "rainbow rigl 0.9": 1.5}
    )
    write_report(tmp_path, reps=20)
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "| env | setting | method | sparsity |" in summary
    assert "| HalfCheetah-v5 | rainbow | rigl | 0.9 | 2 | 300 [300, 300] | 1.5 [1.5, 1.5] |" in (
        summary
    )
    assert not (tmp_path / "report" / "return_by_axis.png").exists()  # agents are no option


def test_sparse_runs_without_a_level_sit_at_the_sparsity_reached(tmp_path):
    """Issue 14, item 3: DS and Static runs with ER lambdas (config sparsity null) are drawn in
    Fig. 1 at their measured sparsity, rounded to 2 decimals, and named as before."""
    for seed in range(2):
        _run(tmp_path, "HalfCheetah-v5", "dense", None, seed, final=100.0 + seed)
        for method, parameters in (("static", 527), ("ds", 529)):  # 47.3% and 47.1% sparse
            _run(tmp_path, "HalfCheetah-v5", method, None, seed, parameters=parameters, final=80)
    groups = finished_groups(load(tmp_path).runs)
    assert sorted(set(groups["group"])) == ["dense", "ds", "static"]
    assert groups.groupby("group")["measured_sparsity"].first().to_dict() == pytest.approx(
        {"dense": np.nan, "ds": 0.47, "static": 0.47}, nan_ok=True
    )
    table = score_table(groups, reps=20)
    text = _figure_text(figures.iqm_by_sparsity(table))
    assert text["ticks"] == ["0.47"]
    assert text["legend"] == ["dense", "static", "ds"]  # dense a band, ds and static points
    write_report(tmp_path, reps=20)
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "| HalfCheetah-v5 | ds | 0.47 (reached) | 2 |" in summary


def test_runs_that_differ_in_options_are_groups_named_by_them(tmp_path):
    """Issue 14, item 4: runs at replay ratio 0.25 and 1 (an agent option), and at two RigL
    update intervals (a method option) under one directory are separate groups whose names
    show those options, compared along each in return_by_axis."""
    finals = {(0.25, "dense"): 100.0, (1, "dense"): 120.0, (0.25, 100): 90.0, (1, 100): 60.0}
    finals |= {(0.25, 1000): 110.0, (1, 1000): 130.0}
    for (ratio, kind), final in finals.items():
        folder = tmp_path / f"rr{ratio}_{kind}"
        for seed in range(2):
            options = {"agent_options": {"replay_ratio": ratio}, "final": final}
            if kind == "dense":
                _run(folder, "HalfCheetah-v5", "dense", None, seed, **options)
            else:
                interval = {"update_interval": kind, "total_steps": 1000 * ratio}
                _run(
                    folder, "HalfCheetah-v5", "rigl", 0.9, seed, method_options=interval, **options
                )
    groups = finished_groups(load(tmp_path).runs)
    assert sorted(set(groups["group"])) == [
        "replay_ratio=0.25 dense",
        "replay_ratio=0.25 rigl update_interval=100 0.9",
        "replay_ratio=0.25 rigl update_interval=1000 0.9",
        "replay_ratio=1 dense",
        "replay_ratio=1 rigl update_interval=100 0.9",
        "replay_ratio=1 rigl update_interval=1000 0.9",
    ]
    scores = final_scores(groups).groupby("group")["score"].mean()
    assert scores["replay_ratio=1 rigl update_interval=100 0.9"] == pytest.approx(60 / 120)
    table = score_table(groups, reps=20)
    text = _figure_text(figures.return_by_axis(table))
    assert text["titles"] == ["HalfCheetah-v5", "HalfCheetah-v5"]
    assert text["ticks"] == ["0.25", "1", "100", "1000"]
    # each panel joins the groups that differ only in its option
    assert text["legend"] == [
        "dense",
        "rigl update_interval=100 0.9",
        "rigl update_interval=1000 0.9",
        "replay_ratio=0.25 rigl 0.9",
        "replay_ratio=1 rigl 0.9",
    ]
    write_report(tmp_path, reps=20)
    assert (tmp_path / "report" / "return_by_axis.svg").is_file()
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "| HalfCheetah-v5 | replay_ratio=1 | rigl update_interval=100 | 0.9 | 2 |" in summary


def test_the_same_run_twice_is_a_clear_error(tmp_path):
    for copy in ("a", "b"):
        _run(tmp_path / copy, "CartPole-v1", "rigl", 0.9, 0)
    with pytest.raises(ReportError, match=r"runs \['a/rigl_0.9_w1.0_seed0', 'b/rigl.*same config"):
        write_report(tmp_path)
