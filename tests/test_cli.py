"""The `sparserl` command: inspect output and clear errors."""

import json

import pytest

from sparserl.cli import _assignments, _spec, build_parser, main


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
        "--method-set",
        "er_lambda=Dense_0=7,Dense_1=64",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "1,911" in out and "32,768" in out and "36,215 of 71,424" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sparsity", "1.5"], "sparsity must be a number in [0, 1), got 1.5"),
        (["--method", "static", "--method-set", "dense_layers=Dense_7"], "['Dense_7']"),
        (
            ["--method", "ds", "--method-set", "er_lambda=Dense_0=300,Dense_1=1"],
            "er_lambda['Dense_0'] = 300.0",
        ),
        (["--method-set", "sparsity=0.5"], "--method-set sparsity: give it with --sparsity"),
        (["--method-set", "total_steps=5"], "--method-set total_steps: give it with --steps"),
        (["--method-set", "update_interval"], "expected NAME=VALUE for --method-set"),
        (
            ["--method-set", "update_interval=5", "--method-set", "update_interval=6"],
            "--method-set update_interval given twice",
        ),
        (["--method-set", "drop_fraction=1.5"], "drop_fraction must be a number in [0, 1]"),
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
    assert main(["inspect", "--method", "static", "--method-set", "drop_fraction=0.3"]) == 2
    err = capsys.readouterr().err
    assert "method 'static' has no option(s) ['drop_fraction']" in err
    # the allowed options are the method's fields, never class constants
    assert "'sparsity_aware_init']" in err and "'name'" not in err and "evolves" not in err


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
    assert main([*args, "--method-set", "distribution=uniform", "--json"]) == 0
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


def _exit_code_and_error(argv, capsys) -> tuple[int, list[str]]:
    try:
        code = main(argv)
    except SystemExit as exit_info:  # argparse's own errors
        code = exit_info.code
    return code, capsys.readouterr().err.strip().splitlines()


# Issue 14, item 10: every malformed input tried, with the words its one-line error must hold.
DQN = ["train", "dqn", "CartPole-v1", "--steps", "1000"]
BAD_TRAIN = [
    (["--save-networks-every", "0"], "save_networks_every must be a positive integer, got 0"),
    (["--set", "replay_capacity=16"], "replay_capacity 16 must be at least batch_size (128)"),
    (["--set", "replay_capacity=200"], "replay_capacity 200 must be at least min_replay (500)"),
    (["--set", "epsilon_train=2.0"], "epsilon_train must be a number in [0, 1], got 2.0"),
    (["--set", "epsilon_eval=-1"], "epsilon_eval must be a number in [0, 1], got -1"),
    (["--set", "weight_decay=-1"], "weight_decay must be a number >= 0, got -1"),
    (["--set", "hidden=(0,16)"], "hidden must be a non-empty tuple of integers >= 1"),
    (["--set", "double_q=maybe"], "double_q must be True or False, got 'maybe'"),
    (["--set", "dueling=3"], "dueling must be True or False, got 3"),
    (["--sweep", "learning_rate=1e-3,-1e-3"], "learning_rate must be a number > 0, got -0.001"),
    (["--sweep", "gamma=0.9,1.5"], "gamma must be a number in [0, 1], got 1.5"),
    (["--sweep", "learning_rate=1e-3,1e-3"], "'learning_rate' lists [0.001] more than once"),
    (["--method", "static", "--sparsity", "0.9,0.9"], "[0.9] listed more than once"),
    (["--set", "gamma=abc"], "gamma must be a number in [0, 1], got 'abc'"),
    (
        ["--set", "hidden=abc"],
        "hidden must be a non-empty tuple of integers >= 1 or None, got 'abc'",
    ),
    (["--set", "gamma=0.9", "--set", "gamma=0.8"], "--set gamma given twice"),
]
OTHER_AGENTS = [
    ("rainbow", "CartPole-v1", "priority_exponent_beta=-1", "priority_exponent_beta must be"),
    ("sac", "Pendulum-v1", "replay_capacity=10", "replay_capacity 10 must be at least batch_size"),
    ("rainbow", "CartPole-v1", "num_atoms=many", "num_atoms must be an integer >= 2, got 'many'"),
    ("m-iqn", "CartPole-v1", "munchausen_alpha=abc", "munchausen_alpha must be a number in [0, 1]"),
    ("td3", "Pendulum-v1", "tau=abc", "tau must be a number in (0, 1], got 'abc'"),
    ("sac", "Pendulum-v1", "target_entropy=abc", "target_entropy must be a number or None, got"),
]


@pytest.mark.parametrize(
    "argv, words",
    [
        *[([*DQN, *args], words) for args, words in BAD_TRAIN],
        *[(["train", a, env, "--set", s, "--steps", "1000"], w) for a, env, s, w in OTHER_AGENTS],
    ],
)
def test_bad_train_inputs_are_one_line_before_anything_is_written(argv, words, tmp_path, capsys):
    out = tmp_path / "runs"
    code, lines = _exit_code_and_error([*argv, "--out", str(out)], capsys)
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("sparserl train: error: ") and words in lines[0]
    assert not out.exists()


def test_save_networks_every_reaches_the_train_spec():
    train = ["train", "dqn", "CartPole-v1"]
    assert _spec(build_parser().parse_args(train), ()).save_networks_every is None
    args = build_parser().parse_args([*train, "--save-networks-every", "3"])
    assert _spec(args, ()).save_networks_every == 3


YAML = "name: t\nagents: [dqn]\nenvs: [CartPole-v1]\nmethods: [dense]\nsteps: 1000\n"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
BAD_YAML = [
    ("overrides: {replay_capacity: 16}", "overrides: dqn on CartPole-v1: replay_capacity 16"),
    ("overrides: {replay_capacity: 200}", "replay_capacity 200 must be at least min_replay"),
    ("overrides: {epsilon_train: 2.0}", "epsilon_train must be a number in [0, 1], got 2.0"),
    ("overrides: {epsilon_eval: -1}", "epsilon_eval must be a number in [0, 1], got -1"),
    ("overrides: {weight_decay: -1}", "weight_decay must be a number >= 0, got -1"),
    ("overrides: {hidden: [0, 16]}", "hidden must be a non-empty tuple of integers >= 1"),
    ("overrides: {double_q: maybe}", "double_q must be True or False, got 'maybe'"),
    ("overrides: {dueling: 3}", "dueling must be True or False, got 3"),
    ("overrides: {gamma: abc}", "gamma must be a number in [0, 1], got 'abc'"),
    ("overrides: {hidden: abc}", "hidden must be a non-empty tuple of integers >= 1"),
    ("sweep: {learning_rate: [1e-3, -1e-3]}", "sweep.learning_rate: learning_rate must be a"),
    ("sweep: {gamma: [0.9, 1.5]}", "sweep.gamma: gamma must be a number in [0, 1], got 1.5"),
    ("sweep: {learning_rate: [1e-3, 1e-3]}", "sweep.learning_rate: [0.001] listed more than once"),
    ("sparsities: [0.9, 0.9]", "sparsities: [0.9] listed more than once"),
    (BOMB + "seeds: [*b, *b, *b, *b, *b, *b, *b, *b, *b]", "YAML aliases (*a) are not allowed"),
    ("preset: &p [x]\nseeds: *p", "YAML aliases (*p) are not allowed"),
]
YAML_AGENTS = [
    ("rainbow", "CartPole-v1", "priority_exponent_beta: -1", "priority_exponent_beta must be"),
    ("sac", "Pendulum-v1", "replay_capacity: 10", "replay_capacity 10 must be at least"),
    ("rainbow", "CartPole-v1", "num_atoms: many", "num_atoms must be an integer >= 2"),
    ("m-iqn", "CartPole-v1", "munchausen_alpha: abc", "munchausen_alpha must be a number"),
    ("td3", "Pendulum-v1", "tau: abc", "tau must be a number in (0, 1], got 'abc'"),
    ("sac", "Pendulum-v1", "target_entropy: abc", "target_entropy must be a number or None"),
]


def _agent_yaml(agent: str, env: str, option: str) -> str:
    text = YAML.replace("[dqn]", f"[{agent}]").replace("[CartPole-v1]", f"[{env}]")
    return text + f"overrides: {{{option}}}"


@pytest.mark.parametrize(
    "text, words",
    [
        *[(YAML + extra, words) for extra, words in BAD_YAML],
        *[(_agent_yaml(a, env, option), words) for a, env, option, words in YAML_AGENTS],
        (YAML.replace("name: t", "name: &n [x]") + "preset: *n", "YAML aliases (*n) are not"),
    ],
)
def test_bad_sweep_specs_are_one_line_naming_the_file_before_anything_is_written(
    text, words, tmp_path, capsys
):
    path, out = tmp_path / "spec.yaml", tmp_path / "sweep"
    path.write_text(text + "\n")
    code, lines = _exit_code_and_error(["sweep", str(path), "--out", str(out)], capsys)
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith(f"sparserl sweep: error: {path}: ") and words in lines[0]
    assert not out.exists()


def test_bad_sweep_files_and_paths_are_one_line_naming_the_path(tmp_path, capsys):
    spec, binary, taken = tmp_path / "spec.yaml", tmp_path / "binary.yaml", tmp_path / "taken"
    spec.write_text(YAML)
    binary.write_bytes(bytes(range(128, 256)))
    taken.write_text("results of another job\n")
    cases = [
        (["sweep", str(binary), "--out", str(tmp_path / "a")], f"{binary}: not a UTF-8 text"),
        (["sweep", str(spec), "--out", str(taken)], f"--out {taken}: is an existing file"),
        (["sweep", str(spec), "--out", f"{taken}/a"], f"{taken} is a file, not a directory"),
        (["train", "dqn", "CartPole-v1", "--out", str(taken)], f"--out {taken}: is an existing"),
        (["train", "dqn", "CartPole-v1", "--out", f"{taken}/a/b"], f"{taken} is a file, not a"),
        (["sweep", str(spec), "--checkpoint-every", "-5", "--out", str(tmp_path / "a")], "'-5'"),
        (["sweep", str(spec), "--checkpoint-every", "nan", "--out", str(tmp_path / "a")], "'nan'"),
    ]
    for argv, words in cases:
        code, lines = _exit_code_and_error(argv, capsys)
        assert code == 2 and len(lines) == 1, (argv, lines)
        assert lines[0].startswith(f"sparserl {argv[0]}: error: ") and words in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["binary.yaml", "spec.yaml", "taken"]
    assert taken.read_text() == "results of another job\n"


def test_checkpoint_every_takes_zero_and_positive_seconds():
    parser = build_parser()
    for text, seconds in [("0", 0.0), ("600", 600.0), ("1.5", 1.5)]:
        args = parser.parse_args(["sweep", "x", "--out", "o", "--checkpoint-every", text])
        assert args.checkpoint_every == seconds


def test_method_set_reads_each_option_by_its_declared_type():
    # one generic flag for every method option: a tuple field splits at commas, er_lambda is
    # a mapping, and several pairs may share one value (split before each option name)
    args = build_parser().parse_args(
        ["train", "td3", "Pendulum-v1", "--method", "ds"]
        + ["--method-set", "distribution=er,dense_layers=Dense_0,Dense_1,update_interval=50"]
        + ["--method-set", "er_lambda=Dense_0=7,Dense_1=64.5"]
        + ["--actor-set", "method=static,sparsity=0.5,dense_output=false"]
    )
    spec = _spec(args, ())
    assert spec.method_options == {
        "distribution": "er",
        "dense_layers": ("Dense_0", "Dense_1"),
        "update_interval": 50,
        "er_lambda": {"Dense_0": 7.0, "Dense_1": 64.5},
    }
    assert spec.network_options == {
        "actor": {"method": "static", "sparsity": 0.5, "dense_output": False}
    }


@pytest.mark.parametrize(
    ("args", "prefix"),
    [
        (["dqn", "CartPole-v1", "--method", "rigl", "--method-set", "foo=1"], ""),
        (["sac", "Pendulum-v1", "--method", "rigl", "--critic-set", "foo=1"], "critic: "),
    ],
)
def test_train_option_the_method_lacks_lists_only_options_a_user_may_give(args, prefix, capsys):
    assert main(["train", *args, "--steps", "5000", "--out", "unused"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"{prefix}method 'rigl' has no option(s) ['foo']" in err
    # the level and the run length come from --sparsity and --steps, so they are not offered
    assert "'drop_fraction'" in err and "'sparsity'" not in err and "total_steps" not in err
