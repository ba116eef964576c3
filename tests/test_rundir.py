"""Runs keep their networks: a trained run directory holds its final (and periodic) networks,
and its policy, rebuilt from the directory alone, reproduces the run's final evaluation return
with the loop's own evaluation code and key."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sparserl import rundir
from sparserl.experiment import TrainSpec
from sparserl.train import train

DQN = {
    "hidden": (16, 16),
    "batch_size": 8,
    "min_replay": 64,
    "target_update_period": 40,
    "replay_capacity": 500,
    # ε > 0 at evaluation: the reproduction must draw the loop's random actions too
    "epsilon_eval": 0.3,
}
SAC = {"hidden": (16, 16), "learning_starts": 20, "batch_size": 16, "replay_capacity": 500}
# observation normalisation on: the policy needs the saved normaliser
PPO = {
    "hidden": (16,),
    "num_envs": 2,
    "num_steps": 16,
    "num_epochs": 1,
    "minibatch_size": 16,
    "normalize_observations": True,
}


def _train(tmp_path, agent, env, method, options, **spec):
    spec = TrainSpec(
        agent,
        env,
        method=method,
        seeds=2,
        eval_episodes=3,
        agent_options=options,
        **spec,
    )
    results = train(spec, tmp_path)
    return results, [tmp_path / r.run_id for r in results]


def test_dqn_run_saves_its_networks_and_reproduces_its_final_evaluation(tmp_path):
    results, dirs = _train(
        tmp_path, "dqn", "CartPole-v1", "static", DQN, sparsities=(0.8,), steps=80, eval_interval=80
    )
    for result, run in zip(results, dirs, strict=True):
        saved = rundir.load_networks(run)
        assert saved.step == 80 and set(saved.networks) == {"online"}
        online = saved.networks["online"]
        assert set(online) == {"params", "masks", "target", "initial_params"}
        kernel = online["params"]["params"]["encoder"]["dense_0"]["kernel"]
        mask = online["masks"]["params"]["encoder"]["dense_0"]["kernel"]
        assert kernel.shape == mask.shape == (4, 16) and mask.dtype == bool
        # the masks hold the counts the metrics report, and no weight lies outside them
        assert int(mask.sum()) == result.metrics[-1]["active/encoder/dense_0"]
        assert np.all(kernel[~mask] == 0.0)
        assert "bias" not in online["masks"]["params"]["encoder"]["dense_0"]  # dense leaves
        # the initial params are not the trained ones (16 updates happened)
        initial = online["initial_params"]["params"]["encoder"]["dense_0"]["kernel"]
        assert initial.shape == kernel.shape and not np.array_equal(initial, kernel)
        assert rundir.saved_steps(run) == []  # no save_networks_every: the final file only
        # ε-greedy evaluation at epsilon_eval 0.3: the same random actions as in training
        assert rundir.evaluate(run) == result.metrics[-1]["eval_return"]
        config = json.loads((run / "config.json").read_text())
        summary = json.loads((run / "summary.json").read_text())
        assert config["format_version"] == summary["format_version"] == rundir.FORMAT_VERSION
    # each seed started from its own initial weights
    first, second = (
        rundir.load_networks(r).networks["online"]["initial_params"]["params"]["head"]["kernel"]
        for r in dirs
    )
    assert first.shape == (16, 2) and not np.array_equal(first, second)
    policy = rundir.load_policy(dirs[0])
    action = policy(np.zeros(4, np.float32))
    assert action.shape == () and int(action) in (0, 1)


def test_sac_run_reproduces_its_final_evaluation(tmp_path):
    results, dirs = _train(
        tmp_path, "sac", "Pendulum-v1", "static", SAC, sparsities=(0.5,), steps=40, eval_interval=40
    )
    for result, run in zip(results, dirs, strict=True):
        saved = rundir.load_networks(run)
        assert set(saved.networks) == {"actor", "critic"}
        assert "target" in saved.networks["critic"] and "target" not in saved.networks["actor"]
        assert rundir.evaluate(run) == result.metrics[-1]["eval_return"]
    action = rundir.load_policy(dirs[0])(np.array([1.0, 0.0, 0.5], np.float32))
    assert action.shape == (1,) and -2.0 <= float(action[0]) <= 2.0  # Pendulum's torque box


def test_ppo_run_saves_every_evaluation_and_reproduces_each(tmp_path):
    results, dirs = _train(
        tmp_path,
        "ppo",
        "CartPole-v1",
        "dense",
        PPO,
        steps=128,
        eval_interval=64,
        save_networks_every=1,
    )
    for result, run in zip(results, dirs, strict=True):
        saved = rundir.load_networks(run)
        assert set(saved.networks) == {"actor", "critic"} and saved.step == 128
        assert saved.evaluation["obs_mean"].shape == (4,)
        # every evaluation: 64 in a periodic file, 128 in the final one
        assert rundir.saved_steps(run) == [64]
        assert rundir.load_networks(run, 128).step == 128
        with pytest.raises(rundir.NetworksFileError, match="periodic steps: 64"):
            rundir.load_networks(run, 96)
        assert rundir.evaluate(run) == result.metrics[-1]["eval_return"]
        assert rundir.evaluate(run, step=64) == result.metrics[0]["eval_return"]
    assert int(rundir.load_policy(dirs[0])(np.zeros(4, np.float32))) in (0, 1)


def test_networks_round_trip_in_their_tree_shape(tmp_path):
    params = {"params": {"Dense_0": {"kernel": np.arange(6.0).reshape(2, 3), "bias": np.ones(3)}}}
    masks = {"params": {"Dense_0": {"kernel": np.eye(2, 3, dtype=bool), "bias": None}}}
    path = rundir.save_networks(
        tmp_path, {"online": {"params": params, "masks": masks}}, step=7, final=False
    )
    assert path.name == "networks_step7.npz" and rundir.saved_steps(tmp_path) == [7]
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == [
            "format_version",
            "online/masks/params/Dense_0/kernel",
            "online/params/params/Dense_0/bias",
            "online/params/params/Dense_0/kernel",
            "step",
        ]
    saved = rundir.load_networks(tmp_path, 7)
    kernel = saved.networks["online"]["params"]["params"]["Dense_0"]["kernel"]
    assert kernel.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    saved_mask = saved.networks["online"]["masks"]["params"]["Dense_0"]
    assert list(saved_mask) == ["kernel"]  # the None leaf stays absent
    assert saved_mask["kernel"].tolist() == [[True, False, False], [False, True, False]]
    with pytest.raises(rundir.NetworksFileError, match="no networks.npz in .* periodic steps: 7"):
        rundir.load_networks(tmp_path)
    with pytest.raises(ValueError, match="'online' has fields \\['params', 'weights'\\]"):
        rundir.save_networks(tmp_path, {"online": {"params": params, "weights": params}}, step=1)


def test_networks_of_a_newer_format_are_refused(tmp_path):
    np.savez(tmp_path / "networks.npz", format_version=np.asarray(2), step=np.asarray(1))
    with pytest.raises(rundir.FormatVersionError, match="networks.npz: format_version 2 is newer"):
        rundir.load_networks(tmp_path)
