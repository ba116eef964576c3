"""The training loop: bad input refused before compiling, run outputs, masks respected."""

import json

import numpy as np
import pandas as pd
import pytest

from sparserl.agents import AgentConfigError
from sparserl.cli import main
from sparserl.envs import EnvConfigError
from sparserl.experiment import ONLINE, TrainConfigError, TrainSpec, resolve
from sparserl.results import inspect_run
from sparserl.sparsity import SparsityConfigError
from sparserl.train import train

SMALL = {
    "hidden": (16, 16),
    "batch_size": 8,
    "min_replay": 64,
    "target_update_period": 40,
    "replay_capacity": 500,
}


@pytest.mark.parametrize(
    "changes, error, message",
    [
        ({"env": "CartPol-v1"}, EnvConfigError, "unknown environment 'CartPol-v1'; choose one of"),
        (
            {"agent": "a2c"},
            AgentConfigError,
            "unknown agent 'a2c'; choose one of ['dqn', 'rainbow', 'iqn', 'm-iqn', 'sac', 'td3', "
            "'ppo']",
        ),
        ({"env": "Pendulum-v1"}, AgentConfigError, "dqn needs discrete actions"),
        ({"steps": 0}, TrainConfigError, "steps must be a positive integer, got 0"),
        ({"steps": -5}, TrainConfigError, "got -5"),
        ({"eval_interval": 20_000}, TrainConfigError, "evaluation interval 20000 is longer"),
        ({"eval_interval": 300}, TrainConfigError, "must be a multiple of the update period 4"),
        ({"sweep": {"batch_size": (32,)}}, TrainConfigError, "'batch_size' cannot be swept"),
        (
            {"sweep": {"gamma": ("",)}},
            TrainConfigError,
            "sweep over 'gamma': gamma must be a number in [0, 1], got ''",
        ),
        ({"agent_options": {"torso": "resnet"}}, AgentConfigError, "unknown torso 'resnet'"),
        (
            {"method": "dense", "sparsities": (0.9,)},
            SparsityConfigError,
            "no option(s) ['sparsity']",
        ),
        ({"method": "rigl", "sparsities": (1.2,)}, SparsityConfigError, "got 1.2"),
        ({"agent_options": {"min_replay": 10_000}}, TrainConfigError, "would never learn"),
    ],
)
def test_bad_input_is_refused_before_compiling(changes, error, message):
    spec = {"agent": "dqn", "env": "CartPole-v1", "steps": 10_000, "eval_interval": 1000}
    spec.update(changes)
    with pytest.raises(error) as info:
        resolve(TrainSpec(**spec))
    assert message in str(info.value)


def test_cli_train_errors_exit_2_naming_the_value(capsys):
    assert main(["train", "dqn", "Breakout", "--steps", "100"]) == 2
    err = capsys.readouterr().err
    assert "unknown environment 'Breakout'" in err and "Breakout-MinAtar" in err
    assert main(["train", "dqn", "CartPole-v1", "--steps", "0"]) == 2
    assert "steps must be a positive integer, got 0" in capsys.readouterr().err


@pytest.fixture(scope="module")
def rigl_grid(tmp_path_factory):
    """2 sparsities x 2 seeds of RigL DQN in one program, topology updates every 20 steps."""
    out = tmp_path_factory.mktemp("runs")
    spec = TrainSpec(
        "dqn",
        "CartPole-v1",
        method="rigl",
        sparsities=(0.5, 0.9),
        seeds=2,
        steps=800,
        eval_interval=200,
        eval_episodes=2,
        agent_options=SMALL,
        method_options={"update_interval": 20},
    )
    return spec, train(spec, out=out), out


def test_grid_writes_one_directory_per_run(rigl_grid):
    spec, results, out = rigl_grid
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(r.run_id for r in results) and len(names) == 4
    assert "dqn_CartPole-v1_rigl_sparsity0.9_seed1" in names
    for result in results:
        directory = out / result.run_id
        config = json.loads((directory / "config.json").read_text())
        summary = json.loads((directory / "summary.json").read_text())
        metrics = pd.read_csv(directory / "metrics.csv")
        assert config["sparsity"] == result.point["sparsity"] and config["seed"] in (0, 1)
        assert config["agent_config"]["hidden"] == [16, 16]
        assert list(metrics["step"]) == [200, 400, 600, 800]
        # 4 evaluations: the final score is the mean of the last 10%, i.e. the last one
        assert summary["final_return"] == pytest.approx(metrics["eval_return"].iloc[-1])
        assert summary["evaluations"] == 4 and summary["status"] == "finished"
        assert inspect_run(directory).status == "finished"  # the store reads what train wrote


def test_masks_hold_exact_counts_after_every_evaluation(rigl_grid):
    spec, results, _ = rigl_grid
    plan = resolve(spec)
    method, params = plan.methods[ONLINE], plan.param_shapes[ONLINE]
    from sparserl.sparsity import mask_counts

    for result in results:
        expected = mask_counts(method.kept_counts(params, result.point["sparsity"]))
        for row in result.metrics:
            counts = {k[len("active/") :]: v for k, v in row.items() if k.startswith("active/")}
            assert counts == expected
            assert row["weights_outside_mask"] == 0 and row["target_weights_outside_mask"] == 0
        assert result.summary["parameters"] == sum(expected.values()) + 16 + 16 + 2


def test_sparsity_levels_share_the_seed_initialisation(rigl_grid):
    _, results, _ = rigl_grid
    by_point = {(r.point["sparsity"], r.point["seed"]): r for r in results}
    assert by_point[(0.5, 0)].summary["sparsity"] == pytest.approx(0.5, abs=0.01)
    assert by_point[(0.9, 0)].summary["sparsity"] == pytest.approx(0.9, abs=0.01)
    assert all(np.isfinite(row["loss"]) for r in results for row in r.metrics)


def test_lottery_rewind_retrains_the_pruned_masks(tmp_path):
    spec = TrainSpec(
        "dqn",
        "CartPole-v1",
        method="lottery",
        sparsities=(0.8,),
        steps=800,
        eval_interval=400,
        eval_episodes=2,
        agent_options=SMALL,
        method_options={"update_interval": 10},
    )
    (result,) = train(spec, out=tmp_path)
    assert "pruning_phase_final_return" in result.summary
    assert result.summary["sparsity"] == pytest.approx(0.8, abs=0.01)
    assert all(row["weights_outside_mask"] == 0 for row in result.metrics)
    config = json.loads((tmp_path / result.run_id / "config.json").read_text())
    assert config["phases"] == ["prune", "lottery"]


def test_rainbow_with_prioritized_replay_and_a_swept_learning_rate_runs():
    spec = TrainSpec(
        "rainbow",
        "CartPole-v1",
        steps=400,
        eval_interval=200,
        eval_episodes=2,
        agent_options=SMALL,
        sweep={"learning_rate": (1e-3, 1e-4)},
    )
    results = train(spec)
    assert [r.point["learning_rate"] for r in results] == [1e-3, 1e-4]
    assert all(np.isfinite(row["loss"]) and row["loss"] > 0 for r in results for row in r.metrics)


def test_inspect_agent_env_reports_network_layers_and_flops(capsys):
    args = ["inspect", "dqn", "Breakout-MinAtar", "--method", "dense", "--json"]
    assert main(args) == 0
    table = json.loads(capsys.readouterr().out)
    layers = {row["layer"]: row for row in table["layers"]}
    assert list(layers) == ["encoder/conv", "encoder/dense", "head"]
    # a 3x3 VALID conv on 10x10 has 8x8 = 64 output positions
    assert layers["encoder/conv"]["inference_flops"] == 2 * 3 * 3 * 4 * 16 * 64
    assert layers["encoder/dense"]["shape"] == [8 * 8 * 16, 128]
    assert table["parameters"] == 3 * 3 * 4 * 16 + 16 + 1024 * 128 + 128 + 128 * 3 + 3


def test_inspect_sparse_dqn_on_cartpole(capsys):
    assert main(["inspect", "dqn", "CartPole-v1", "--sparsity", "0.9", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert [row["shape"] for row in table["layers"]] == [[4, 512], [512, 512], [512, 2]]
    dense = 4 * 512 + 512 * 512 + 512 * 2
    assert table["dense_weights"] == dense
    assert table["weights"] == pytest.approx(0.1 * dense, abs=3)
    assert table["inference_flops"] == 2 * table["weights"]


def test_parameter_matched_dense_has_the_sparse_parameter_count(capsys):
    assert main(["inspect", "dqn", "CartPole-v1", "--sparsity", "0.9", "--json"]) == 0
    sparse = json.loads(capsys.readouterr().out)["parameters"]
    args = ["inspect", "dqn", "CartPole-v1", "--method", "dense", "--match-sparsity", "0.9"]
    assert main([*args, "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    hidden = table["layers"][1]["shape"][0]
    assert hidden == 162  # 162^2 + 8*162 + 2 = 27,542 vs 27,549 sparse parameters
    assert table["parameters"] == 27_542 and sparse == 27_549
    assert abs(table["parameters"] - sparse) < hidden  # one unit fewer/more is farther
    with pytest.raises(TrainConfigError, match="needs method 'dense', not 'rigl'"):
        resolve(TrainSpec("dqn", "CartPole-v1", method="rigl", match_sparsity=0.9))


def test_parameter_matched_dense_accepts_the_reference_distribution():
    def matched(distribution):
        spec = TrainSpec(
            "dqn",
            "CartPole-v1",
            method="dense",
            match_sparsity=0.9,
            method_options={"distribution": distribution},
        )
        resolved = resolve(spec)  # the dense run itself takes no distribution option
        assert resolved.methods[ONLINE].name == "dense"
        return resolved.agent.config.width

    # Both distributions keep (1 - s) of all weights, only placed differently: same width.
    assert matched("uniform") == matched("erk") == pytest.approx(162 / 512, abs=1 / 512)
