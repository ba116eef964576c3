"""Statistics over results: normalisation schemes, score matrices and the rliable wrappers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rliable import library as rly
from rliable import metrics as rly_metrics

from sparserl.stats import (
    ATARI_RANDOM_HUMAN,
    CLASSIC_CONTROL_RANGES,
    atari_game,
    human_normalized,
    interval_estimates,
    min_max,
    normalize,
    performance_profiles,
    probability_of_improvement,
    relative_to_dense,
    score_matrices,
)

# Fixed [runs=6, tasks=3] score matrices (normalised scores of two made-up algorithms).
SCORES = {
    "a": np.array(
        [
            [0.91, 1.12, 0.45],
            [1.04, 0.87, 0.62],
            [0.78, 1.31, 0.51],
            [1.21, 0.95, 0.38],
            [0.99, 1.08, 0.70],
            [0.85, 1.19, 0.57],
        ]
    ),
    "b": np.array(
        [
            [0.62, 0.81, 0.40],
            [0.75, 0.66, 0.29],
            [0.58, 0.93, 0.47],
            [0.81, 0.72, 0.33],
            [0.69, 0.88, 0.52],
            [0.55, 0.79, 0.36],
        ]
    ),
}
REPS = 300


def _table(rows):
    return pd.DataFrame(rows, columns=["env", "method", "sparsity", "seed", "score"])


# --- rliable wrappers -------------------------------------------------------------------------


def test_iqm_and_ci_equal_rliable():
    ours = interval_estimates(SCORES, ["iqm"], reps=REPS, seed=3).set_index("algorithm")
    np.random.seed(3)  # rliable's bootstrap draws from numpy's global RNG
    points, cis = rly.get_interval_estimates(
        SCORES, lambda s: np.array([rly_metrics.aggregate_iqm(s)]), reps=REPS
    )
    for name in SCORES:
        row = ours.loc[name]
        assert row["estimate"] == points[name][0]
        assert (row["low"], row["high"]) == (cis[name][0, 0], cis[name][1, 0])
        assert row["low"] < row["estimate"] < row["high"]


def test_all_metrics_in_one_bootstrap_equal_rliable_one_at_a_time():
    ours = interval_estimates(SCORES, reps=REPS, seed=5).set_index(["algorithm", "metric"])
    functions = {
        "iqm": rly_metrics.aggregate_iqm,
        "mean": rly_metrics.aggregate_mean,
        "median": rly_metrics.aggregate_median,
        "optimality_gap": rly_metrics.aggregate_optimality_gap,
    }
    for metric, function in functions.items():
        np.random.seed(5)
        points, cis = rly.get_interval_estimates(
            SCORES, lambda s, f=function: np.array([f(s)]), reps=REPS
        )
        for name in SCORES:
            row = ours.loc[(name, metric)]
            assert [row["estimate"], row["low"], row["high"]] == [points[name][0], *cis[name][:, 0]]


def test_iqm_by_hand():
    # 8 scores sorted: 1 2 | 3 4 5 6 | 7 100; the IQM drops the lowest and highest quarter
    # (2 scores each) and averages the middle half: (3 + 4 + 5 + 6) / 4 = 4.5.
    # The mean is (1 + 2 + ... + 7 + 100) / 8 = 128 / 8 = 16.
    scores = {"x": np.array([[5.0, 100.0, 1.0, 4.0], [2.0, 6.0, 7.0, 3.0]])}
    table = interval_estimates(scores, ["iqm", "mean"], reps=50).set_index("metric")
    assert table.loc["iqm", "estimate"] == pytest.approx(4.5)
    assert table.loc["mean", "estimate"] == pytest.approx(16.0)


def test_seed_reproduces_and_leaves_global_rng_alone():
    np.random.seed(123)
    expected_next = np.random.rand()
    np.random.seed(123)
    first = interval_estimates(SCORES, ["iqm"], reps=100, seed=7)
    assert np.random.rand() == expected_next
    again = interval_estimates(SCORES, ["iqm"], reps=100, seed=7)
    other = interval_estimates(SCORES, ["iqm"], reps=100, seed=8)
    pd.testing.assert_frame_equal(first, again)
    assert not first[["low", "high"]].equals(other[["low", "high"]])


def test_performance_profiles_equal_rliable_score_distributions():
    taus = np.linspace(0.0, 1.5, 16)
    ours = performance_profiles(SCORES, taus, reps=REPS, seed=2)
    np.random.seed(2)
    profiles, cis = rly.create_performance_profile(SCORES, taus, reps=REPS)
    for name in SCORES:
        rows = ours[ours["algorithm"] == name]
        np.testing.assert_array_equal(rows["threshold"], taus)
        np.testing.assert_array_equal(rows["fraction"], profiles[name])
        np.testing.assert_array_equal(rows["low"], cis[name][0])
        np.testing.assert_array_equal(rows["high"], cis[name][1])
    assert ours[ours["threshold"] == 0.0]["fraction"].tolist() == [1.0, 1.0]


def test_probability_of_improvement():
    table = probability_of_improvement(SCORES, [("a", "a"), ("a", "b")], reps=100, seed=0)
    same, better = table.to_dict("records")
    assert (same["x"], same["y"], same["estimate"]) == ("a", "a", 0.5)
    assert same["low"] < 0.5 < same["high"]
    assert better["estimate"] == pytest.approx(
        rly_metrics.probability_of_improvement(SCORES["a"], SCORES["b"])
    )
    assert 0.5 < better["low"] <= better["estimate"] <= better["high"] <= 1.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: interval_estimates(SCORES, ["iqm", "max"]), r"\['max'\]; allowed: \['iqm'"),
        (lambda: interval_estimates(SCORES, []), "no metrics"),
        (lambda: interval_estimates({}), "no score matrices"),
        (lambda: interval_estimates({"a": np.ones(4)}), r"'a'.*2-D.*\(4,\)"),
        (lambda: interval_estimates({"a": [[1.0, np.nan]]}), "'a' has non-finite"),
        (lambda: interval_estimates({**SCORES, "c": np.ones((6, 2))}), "different numbers"),
        (lambda: performance_profiles(SCORES, []), "thresholds"),
        (lambda: probability_of_improvement(SCORES, [("a", "z")]), r"'z'.*known.*'a', 'b'"),
        (lambda: probability_of_improvement(SCORES, []), "no .* pairs"),
        (lambda: interval_estimates(SCORES, reps=-5), "reps .* positive integer, got -5"),
        (lambda: performance_profiles(SCORES, [1.0], reps=0), "got 0"),
        (
            lambda: interval_estimates(SCORES, confidence=95),
            r"confidence must be a number in \(0, 1\), got 95",
        ),
    ],
)
def test_aggregate_bad_inputs_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- score matrices ---------------------------------------------------------------------------


def test_score_matrices_are_runs_by_sorted_envs_per_group():
    rows = [
        ("Hopper", "dense", None, 1, 4.0),
        ("Hopper", "dense", None, 0, 3.0),
        ("Ant", "dense", None, 0, 1.0),
        ("Ant", "dense", None, 1, 2.0),
        ("Ant", "rigl", 0.9, 5, 10.0),
        ("Hopper", "rigl", 0.9, 5, 30.0),
        ("Ant", "rigl", 0.9, 6, 20.0),
        ("Hopper", "rigl", 0.9, 6, 40.0),
    ]
    matrices = score_matrices(_table(rows))
    assert list(matrices) == ["dense", "rigl 0.9"]
    np.testing.assert_array_equal(matrices["dense"], [[1.0, 3.0], [2.0, 4.0]])  # Ant, Hopper
    np.testing.assert_array_equal(matrices["rigl 0.9"], [[10.0, 30.0], [20.0, 40.0]])
    assert list(score_matrices(_table(rows), "method")) == ["dense", "rigl"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([("Ant", "set", 0.9, 0, 1.0)], r"'set 0.9' has no runs on env\(s\) \['Hopper'\]"),
        ([("Ant", "dense", None, 2, 1.0)], r"'dense' has different numbers of seeds.*Ant': 3"),
        ([("Ant", "dense", None, 0, 9.0)], r"'dense' repeats \(env, seed\) \[\('Ant', 0\)\]"),
    ],
)
def test_score_matrices_reject_ragged_groups(extra, message):
    rows = [("Ant", "dense", None, s, 1.0) for s in (0, 1)]
    rows += [("Hopper", "dense", None, s, 1.0) for s in (0, 1)]
    with pytest.raises(ValueError, match=message):
        score_matrices(_table(rows + extra))


# --- normalisation ----------------------------------------------------------------------------


def test_relative_to_dense_divides_by_the_envs_dense_mean():
    rows = [
        ("Ant", "dense", None, 0, 90.0),
        ("Ant", "dense", None, 1, 110.0),  # Ant dense mean 100
        ("Ant", "rigl", 0.9, 0, 50.0),
        ("Ant", "rigl", 0.9, 1, 150.0),
        ("Ant", "dense", 0.9, 0, 1000.0),  # a smaller dense net: not the reference
        ("Hopper", "dense", np.nan, 0, 10.0),
        ("Hopper", "dense", np.nan, 1, 30.0),  # Hopper dense mean 20
        ("Hopper", "rigl", 0.9, 0, 10.0),
        ("Hopper", "rigl", 0.9, 1, 40.0),
    ]
    table = _table(rows)
    out = relative_to_dense(table)
    assert out["score"].tolist() == pytest.approx([0.9, 1.1, 0.5, 1.5, 10.0, 0.5, 1.5, 0.5, 2.0])
    reference = out["method"].eq("dense") & out["sparsity"].isna()
    assert out[reference].groupby("env")["score"].mean().tolist() == pytest.approx([1.0, 1.0])
    assert table["score"].iloc[0] == 90.0  # the input is left as it was
    pd.testing.assert_frame_equal(normalize(table, "dense"), out)


def test_relative_to_dense_needs_positive_dense_runs_per_env():
    rows = [("Ant", "dense", None, 0, 5.0), ("Humanoid", "rigl", 0.9, 0, 5.0)]
    with pytest.raises(ValueError, match=r"no dense runs .* \['Humanoid'\]"):
        relative_to_dense(_table(rows))
    with pytest.raises(ValueError, match=r"positive.*'Pendulum-v1': -300.0"):
        relative_to_dense(_table([("Pendulum-v1", "dense", None, 0, -300.0)]))


def test_human_normalized_is_zero_at_random_and_one_at_human():
    random, human = ATARI_RANDOM_HUMAN["Breakout"]
    assert human_normalized([random, human], "Breakout").tolist() == [0.0, 1.0]
    for env_id in ("ALE/Breakout-v5", "BreakoutNoFrameskip-v4", "breakout"):
        assert atari_game(env_id) == "Breakout"
    assert atari_game("ms_pacman") == atari_game("ALE/MsPacman-v5") == "MsPacman"
    table = _table(
        [("ALE/Pong-v5", "dense", None, 0, -20.7), ("ALE/Pong-v5", "dense", None, 1, 14.6)]
    )
    assert normalize(table, "human")["score"].tolist() == pytest.approx([0.0, 1.0])


ATARI_100K = (
    "Alien Amidar Assault Asterix BankHeist BattleZone Boxing Breakout ChopperCommand "
    "CrazyClimber DemonAttack Freeway Frostbite Gopher Hero Jamesbond Kangaroo Krull "
    "KungFuMaster MsPacman Pong PrivateEye Qbert RoadRunner Seaquest UpNDown"
)
# Graesser et al. 2022's 15 games, also used by Obando-Ceron et al. 2024.
GRAESSER_15 = (
    "MsPacman Pong Qbert Assault Asterix BeamRider Boxing Breakout CrazyClimber DemonAttack "
    "Enduro FishingDerby SpaceInvaders Tutankham VideoPinball"
)


def test_atari_table_covers_atari_100k_and_the_papers_games():
    atari_100k, graesser_15 = set(ATARI_100K.split()), set(GRAESSER_15.split())
    assert len(atari_100k) == 26 and len(graesser_15) == 15
    assert atari_100k | graesser_15 <= set(ATARI_RANDOM_HUMAN)
    assert all(random < human for random, human in ATARI_RANDOM_HUMAN.values())


def test_unknown_atari_game_lists_known_games():
    with pytest.raises(ValueError, match=r"'Breakout-MinAtar'.*known games: Alien, Amidar"):
        human_normalized([1.0], "Breakout-MinAtar")


def test_min_max_bounds():
    assert min_max([-1.0, 1.0, 3.0], -1.0, 3.0).tolist() == [0.0, 0.5, 1.0]
    for env, (low, high) in CLASSIC_CONTROL_RANGES.items():
        table = _table([(env, "dense", None, 0, low), (env, "dense", None, 1, high)])
        assert normalize(table, "min_max")["score"].tolist() == pytest.approx([0.0, 1.0])
    with pytest.raises(ValueError, match="high > low"):
        min_max([1.0], 2.0, 2.0)
    with pytest.raises(ValueError, match=r"'Hopper-v5'; known envs: \['Acrobot-v1'"):
        normalize(_table([("Hopper-v5", "dense", None, 0, 1.0)]), "min_max")


def test_normalize_rejects_bad_scheme_and_columns():
    table = _table([("CartPole-v1", "dense", None, 0, 500.0)])
    with pytest.raises(ValueError, match=r"'zscore'; allowed: \['dense', 'min_max', 'human'"):
        normalize(table, "zscore")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['seed'\]"):
        normalize(table.drop(columns="seed"), "none")
    pd.testing.assert_frame_equal(normalize(table, "none"), table)
