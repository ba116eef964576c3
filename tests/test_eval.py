"""`sparserl eval`: saved runs evaluated again without retraining. Under observation noise σ = 0
is the run's own final evaluation, exactly; noise follows Graesser et al. 2022 (integer pixel
noise) or the vector rule (each dimension's spread); results are written beside each run,
kept when the settings match and recomputed when they change, and loaded for the report."""

from __future__ import annotations

import json
import shutil

import jax
import numpy as np
import pandas as pd
import pytest

from sparserl import rundir
from sparserl.analysis.noise import (
    PIXELS,
    VECTOR,
    VectorNoise,
    check_sigmas,
    noise_rule,
    observation_spread,
)
from sparserl.analysis.posthoc import EvalConfigError, EvalSettings, evaluate_directory
from sparserl.cli import main
from sparserl.envs import add_pixel_noise, make_env
from sparserl.experiment import TrainSpec
from sparserl.results import load_eval_measures, load_noise
from sparserl.train import train

# test_rundir's tiny configs (the persistent compilation cache holds their programs)
DQN = {
    "hidden": (16, 16),
    "batch_size": 8,
    "min_replay": 64,
    "target_update_period": 40,
    "replay_capacity": 500,
    "epsilon_eval": 0.3,  # the ε draws come from the saved key too
}
PPO = {
    "hidden": (16,),
    "num_envs": 2,
    "num_steps": 16,
    "num_epochs": 1,
    "minibatch_size": 16,
    "normalize_observations": True,  # the noise goes in before the saved normaliser
}
SAC = {"hidden": (16, 16), "learning_starts": 20, "batch_size": 16, "replay_capacity": 500}
SIGMAS = (0.0, 30.0)


def _train(root, agent, env, options, seeds, steps, **spec):
    spec = TrainSpec(
        agent,
        env,
        seeds=seeds,
        eval_episodes=3,
        agent_options=options,
        steps=steps,
        eval_interval=steps,
        **spec,
    )
    return {r.run_id: r.metrics[-1]["eval_return"] for r in train(spec, root)}


@pytest.fixture(scope="module")
def dqn_sweep(tmp_path_factory):
    """Two DQN runs (static 80% sparse) and their final evaluation returns."""
    root = tmp_path_factory.mktemp("dqn")
    final = _train(root, "dqn", "CartPole-v1", DQN, 2, 80, method="static", sparsities=(0.8,))
    return root, final


def _copy(source, tmp_path):
    return shutil.copytree(source, tmp_path / "sweep")


def _noise(run_dir) -> pd.DataFrame:
    return pd.read_csv(run_dir / "analysis" / "noise.csv", float_precision="round_trip")


def test_vector_noise_is_scaled_by_each_dimensions_spread():
    observations = np.array([[0.0, 1.0, 5.0], [2.0, 1.0, 5.0], [4.0, 1.0, 5.0]])
    spread = observation_spread(observations)
    np.testing.assert_allclose(spread, [np.sqrt(8 / 3), 0.0, 0.0], rtol=1e-6)
    obs = np.zeros((50_000, 3), np.float32)
    scale = np.array([1.0, 2.0, 0.0], np.float32)
    key = jax.random.key(0)
    # σ = 30 (VECTOR_SIGMA_UNIT): the noise's std is the measured spread; σ = 15: half of it
    full = np.asarray(VectorNoise(np.float32(30.0), scale)(obs, key))
    np.testing.assert_allclose(full.std(axis=0)[:2], [1.0, 2.0], rtol=0.02)
    assert np.all(full[:, 2] == 0.0)  # a dimension that never varies gets no noise
    half = np.asarray(VectorNoise(np.float32(15.0), scale)(obs, key))
    np.testing.assert_allclose(half, full / 2, rtol=1e-6)
    # σ = 0 leaves the observations untouched, bit for bit
    varied = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    untouched = np.asarray(VectorNoise(np.float32(0.0), scale)(varied, key))
    assert untouched.tobytes() == varied.tobytes()


def test_pixel_noise_is_integer_and_clipped_and_rules_follow_the_observation():
    frames = np.array([[0, 128, 255]] * 20_000, np.uint8)
    noisy = add_pixel_noise(frames, 30.0, np.random.default_rng(0))
    assert noisy.dtype == np.uint8  # integer pixel values, in [0, 255]
    shift = noisy.astype(float) - frames
    assert shift[:, 1].std() == pytest.approx(30.0, rel=0.03)  # mid-grey: the unclipped N(0, 30)
    assert (noisy[:, 0] == 0).mean() == pytest.approx(0.5, abs=0.02)  # black clips at 0
    assert (noisy[:, 2] == 255).mean() == pytest.approx(0.5, abs=0.02)  # white at 255
    assert noise_rule(make_env("ALE/Pong-v5")) == PIXELS
    assert noise_rule(make_env("Breakout-MinAtar")) == VECTOR  # binary channels: vector rule
    assert noise_rule(make_env("CartPole-v1")) == VECTOR
    assert check_sigmas([10, 0]) == (0.0, 10.0)
    refused = (([-1.0], "noise level -1.0"), ([], "at least one"), ([5, 5], "more than once"))
    for bad, message in refused:
        with pytest.raises(ValueError, match=message):
            check_sigmas(bad)


def test_sigma_zero_is_the_final_evaluation_and_results_resume(dqn_sweep, tmp_path, capsys):
    root = _copy(dqn_sweep[0], tmp_path)
    outcome = evaluate_directory(root, EvalSettings(SIGMAS), report=lambda line: None)
    assert sorted(name for name, _ in outcome.evaluated) == sorted(dqn_sweep[1])
    for run_id, final in dqn_sweep[1].items():
        run = root / run_id
        noise = _noise(run)
        assert noise["sigma"].tolist() == [0.0, 30.0] and noise["episodes"].tolist() == [3, 3]
        assert noise["eval_return"][0] == final  # σ = 0: the saved evaluation, exactly
        measures = json.loads((run / "analysis" / "measures.json").read_text())["networks"]
        online = measures["online"]
        assert set(online) == {
            "dormant_fraction",
            "dormant_fraction_per_layer",
            "srank",
            "parameter_norm",
            "q_mean",
            "q_variance",
            "q_norm",
        }
        per_layer = online["dormant_fraction_per_layer"]
        assert len(per_layer) == 2  # hidden (16, 16): the mean of equal-sized layers
        assert online["dormant_fraction"] == pytest.approx(sum(per_layer) / 2)
        assert 1 <= online["srank"] <= 16
        # the norm of the saved weights where their masks keep them
        saved = rundir.load_networks(run).networks["online"]
        leaves = jax.tree.leaves(jax.tree.map(np.asarray, saved["params"]))
        assert online["parameter_norm"] == pytest.approx(
            np.sqrt(sum(np.sum(np.square(x, dtype=np.float64)) for x in leaves)), rel=1e-5
        )
    # the noise changes some evaluation
    assert any(_noise(root / r)["eval_return"][1] != f for r, f in dqn_sweep[1].items())

    # a re-run with the same settings keeps every run and rewrites nothing
    written = {p: p.stat().st_mtime_ns for p in root.rglob("analysis/*")}
    assert main(["eval", str(root), "--sigmas", "0,30"]) == 0
    assert "0 run(s) evaluated, 2 kept from before, 0 skipped, 0 failed" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in root.rglob("analysis/*")} == written
    # other noise levels: every run is evaluated again
    outcome = evaluate_directory(root, EvalSettings((0.0, 10.0)), report=lambda line: None)
    assert len(outcome.evaluated) == 2 and not outcome.kept
    assert _noise(root / next(iter(dqn_sweep[1])))["sigma"].tolist() == [0.0, 10.0]

    frame = load_noise(root)
    assert len(frame) == 4 and frame["sigma"].tolist().count(10.0) == 2
    assert set(frame["method"]) == {"static"} and set(frame["sparsity"]) == {0.8}
    assert set(frame["agent"]) == {"dqn"} and set(frame["env"]) == {"CartPole-v1"}
    assert sorted(set(frame["seed"])) == [0, 1] and frame["parameters"].notna().all()
    zero = frame[frame["sigma"] == 0.0].set_index("run_id")["eval_return"]
    assert zero.to_dict() == dqn_sweep[1]
    measures = load_eval_measures(root)
    assert measures["network"].tolist() == ["online", "online"] and len(measures.columns) > 10


def test_an_actor_critic_run_repeats_its_final_evaluation(tmp_path):
    final = _train(tmp_path, "ppo", "CartPole-v1", PPO, 1, 64, method="dense")
    outcome = evaluate_directory(tmp_path, EvalSettings(SIGMAS), report=lambda line: None)
    ((run_id, _),) = outcome.evaluated
    assert _noise(tmp_path / run_id)["eval_return"][0] == final[run_id]
    measures = load_eval_measures(tmp_path).set_index("network")
    assert list(measures.index) == ["actor", "critic"]
    assert "q_mean" not in measures  # a state-value critic: no Q statistics


def test_a_host_environment_run_evaluates(tmp_path):
    final = _train(tmp_path, "sac", "Hopper-v5", SAC, 1, 40, method="static", sparsities=(0.5,))
    outcome = evaluate_directory(tmp_path, EvalSettings(SIGMAS, observations=64), lambda _: None)
    ((run_id, _),) = outcome.evaluated
    noise = _noise(tmp_path / run_id)
    # a deterministic policy on the evaluation's seeds (the run was first in its group)
    assert noise["eval_return"][0] == final[run_id] and noise["eval_return"][1] != final[run_id]
    critic = load_eval_measures(tmp_path).set_index("network").loc["critic"]
    assert np.isfinite(critic["q_mean"]) and critic["q_variance"] > 0


def test_unusable_runs_are_skipped_and_a_failure_keeps_the_others(dqn_sweep, tmp_path):
    root = _copy(dqn_sweep[0], tmp_path)
    first, second = sorted(dqn_sweep[1])
    shutil.copytree(root / second, root / "broken")
    (root / "broken" / "networks.npz").write_bytes(b"not a zip file")
    (root / first / "networks.npz").unlink()
    lines = []
    outcome = evaluate_directory(root, EvalSettings((0.0,)), report=lines.append)
    assert outcome.evaluated == [(second, "")]
    assert outcome.skipped == [(first, "no networks.npz: trained before runs saved their networks")]
    ((name, reason),) = outcome.failed
    assert name == "broken" and reason.startswith("NetworksFileError: networks.npz: cannot be read")
    assert len(lines) == 3 and all("\n" not in line for line in lines)
    assert _noise(root / second)["eval_return"][0] == dqn_sweep[1][second]
    assert not (root / "broken" / "analysis" / "eval.json").exists()
    assert main(["eval", str(root), "--sigmas", "0"]) == 1  # a failed run: exit status 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sigmas=-5,0"], "noise level -5.0 is not allowed; σ must be finite, >= 0"),
        (["--episodes", "0"], "episodes must be an integer >= 1, got 0"),
        (["--observations", "1"], "observations must be an integer >= 2, got 1"),
    ],
)
def test_bad_settings_fail_in_one_line_before_any_evaluation(dqn_sweep, args, message, capsys):
    root = dqn_sweep[0]
    assert main(["eval", str(root), *args]) == 2
    err = capsys.readouterr().err
    assert err == f"sparserl eval: error: {message}\n"
    assert not list(root.rglob("analysis"))


def test_a_directory_without_runs_fails_in_one_line(tmp_path, capsys):
    missing = tmp_path / "missing"
    assert main(["eval", str(missing)]) == 2
    assert capsys.readouterr().err == f"sparserl eval: error: {missing}: no such directory\n"
    with pytest.raises(EvalConfigError, match="no run directories in it"):
        evaluate_directory(tmp_path)
