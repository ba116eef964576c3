"""The `sparserl` command: inspect output and clear errors."""

import json

import pytest

from sparserl.cli import _assignments, main


def test_inspect_json_reports_exact_counts(capsys):
    assert (
        main(["inspect", "--mlp", "4,256,256,2", "--method", "rigl", "--sparsity", "0.9", "--json"])
        == 0
    )
    table = json.loads(capsys.readouterr().out)
    # ERK as RigL's code counts it (tests/test_distributions.py): 6,709 - 1,024 - 512 = 5,173
    assert [row["nonzeros"] for row in table["layers"]] == [1024, 5173, 512]
    assert table["weights"] == 6709 and table["parameters"] == 6709 + 256 + 256 + 2
    assert table["inference_flops"] == 2 * 6709
    # uniform keeps 103 + 6,554 + 52 = 6,709 weights too: on an MLP ERK costs no more FLOPs
    assert table["uniform_inference_flops"] == 2 * 6709
    assert table["inference_flops_vs_uniform"] == table["training_flops_vs_uniform"] == 1.0


def test_inspect_ds_td3_actor(capsys):
    args = [
        "inspect",
        "--mlp",
        "17,256,256,6",
        "--method",
        "ds",
        "--er-lambda",
        "Dense_0=7,Dense_1=64",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "1,911" in out and "32,768" in out and "36,215 of 71,424" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sparsity", "1.5"], "sparsity must be in [0, 1), got 1.5"),
        (["--method", "static", "--dense-layers", "Dense_7"], "['Dense_7']"),
        (
            ["--method", "ds", "--er-lambda", "Dense_0=300,Dense_1=1"],
            "er_lambda['Dense_0'] = 300.0",
        ),
        (["--method", "prune", "--steps", "0"], "total_steps must be a positive integer, got 0"),
    ],
)
def test_inspect_bad_values_exit_2_with_a_message(args, message, capsys):
    assert main(["inspect", *args]) == 2
    assert message in capsys.readouterr().err


def test_unknown_method_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["inspect", "--method", "magic"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'magic'" in capsys.readouterr().err


def test_option_the_method_lacks_is_refused(capsys):
    assert main(["inspect", "--method", "static", "--drop-fraction", "0.3"]) == 2
    assert "method 'static' has no option(s) ['drop_fraction']" in capsys.readouterr().err


def test_inspect_compares_erk_flops_with_uniform_on_nature_cnn(capsys):
    # Graesser et al. 2022: on CNNs ERK roughly doubles the FLOPs of uniform at a given
    # sparsity. Uniform 90% on DQN's Nature CNN for Pong keeps size - floor(0.9 x size) per
    # layer (RigL's rule): conv_0 820 of 8x8x4x32 at 20x20 positions, conv_1 3,277 of
    # 4x4x32x64 at 9x9, conv_2 3,687 of 3x3x64x64 at 7x7, dense 160,564 of 3136x512, head 308
    # of 512x6.
    uniform = 2 * (820 * 400 + 3277 * 81 + 3687 * 49 + 160_564 + 308)
    assert uniform == 1_869_944
    args = ["inspect", "dqn", "ALE/Pong-v5", "--method", "rigl", "--sparsity", "0.9"]
    assert main([*args, "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["uniform_inference_flops"] == uniform
    ratio = table["inference_flops_vs_uniform"]
    assert ratio == table["inference_flops"] / uniform and 1.5 <= ratio <= 2.5
    training = table["training_flops_vs_uniform"]
    assert training == table["training_flops"] / table["uniform_training_flops"]
    assert 1.5 <= training <= 2.5
    assert main(args) == 0
    assert f"{ratio:.2f}x uniform)" in capsys.readouterr().out
    assert main([*args, "--distribution", "uniform", "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["inference_flops"] == uniform and "inference_flops_vs_uniform" not in plain
    assert plain["training_flops"] == table["uniform_training_flops"]


def test_true_and_false_in_any_case_are_booleans():
    # 'false' kept as a string would be truthy: double Q on when the user turned it off
    assert _assignments(["double_q=false", "dueling=TRUE", "terminal_on_life_loss=True"], "x") == {
        "double_q": False,
        "dueling": True,
        "terminal_on_life_loss": True,
    }
    assert _assignments(["loss=mse", "hidden=(64, 64)"], "x") == {"loss": "mse", "hidden": (64, 64)}
