"""Runs keep their networks: a trained run directory holds its final (and periodic) networks,
and its policy, rebuilt from the directory alone, reproduces the run's final evaluation return
with the loop's own evaluation code and key."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sparserl import rundir
from sparserl.train import TrainSpec, train

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
        tmp_path,
        "dqn",
        "CartPole-v1",
        "rigl",
        DQN,
        sparsities=(0.8,),
        steps=160,
        eval_interval=80,
        save_networks_every=1,
    )
    for result, run in zip(results, dirs, strict=True):
        saved = rundir.load_networks(run)
        assert saved.step == 160 and set(saved.networks) == {"online"}
        online = saved.networks["online"]
        assert set(online) == {"params", "masks", "target", "initial_params"}
        kernel = online["params"]["params"]["encoder"]["dense_0"]["kernel"]
        mask = online["masks"]["params"]["encoder"]["dense_0"]["kernel"]
        assert kernel.shape == mask.shape == (4, 16) and mask.dtype == bool
        # the masks hold the counts the metrics report, and no weight lies outside them
        last = result.metrics[-1]
        assert int(mask.sum()) == last["active/encoder/dense_0"]
        assert np.all(kernel[~mask] == 0.0)
        assert "bias" not in online["masks"]["params"]["encoder"]["dense_0"]  # dense leaves
        # the initial params differ from the trained ones, and are those of a fresh run
        initial = online["initial_params"]["params"]["encoder"]["dense_0"]["kernel"]
        assert initial.shape == kernel.shape and not np.array_equal(initial, kernel)
        # every evaluation: 80 periodic, 160 in the final file
        assert rundir.saved_steps(run) == [80]
        assert rundir.load_networks(run, 160).step == 160
        with pytest.raises(rundir.NetworksFileError, match="periodic steps: 80"):
            rundir.load_networks(run, 120)
        assert rundir.evaluate(run) == result.metrics[-1]["eval_return"]
        assert rundir.evaluate(run, step=80) == result.metrics[0]["eval_return"]
        config = json.loads((run / "config.json").read_text())
        summary = json.loads((run / "summary.json").read_text())
        assert config["format_version"] == summary["format_version"] == rundir.FORMAT_VERSION
    # both seeds started from their own initial weights
    first, second = (
        rundir.load_networks(r).networks["online"]["initial_params"]["params"]["head"]["kernel"]
        for r in dirs
    )
    assert not np.array_equal(first, second)
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


def test_ppo_run_reproduces_its_final_evaluation(tmp_path):
    results, dirs = _train(
        tmp_path, "ppo", "CartPole-v1", "dense", PPO, steps=128, eval_interval=64
    )
    for result, run in zip(results, dirs, strict=True):
        saved = rundir.load_networks(run)
        assert set(saved.networks) == {"actor", "critic"}
        assert saved.evaluation["obs_mean"].shape == (4,)
        assert rundir.evaluate(run) == result.metrics[-1]["eval_return"]
    assert int(rundir.load_policy(dirs[0])(np.zeros(4, np.float32))) in (0, 1)
