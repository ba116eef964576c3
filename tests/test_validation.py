"""The one validator of config fields (declared type and range), the options a sweep's method
entry may set, and the sweep YAML loader's bounds."""

import dataclasses

import numpy as np
import pytest

from sparserl.agents import AGENTS, RainbowConfig, ValueConfig, agent_config
from sparserl.agents.errors import AgentConfigError
from sparserl.cli import _spec, build_parser
from sparserl.envs import ENVS
from sparserl.experiment import resolve
from sparserl.sparsity import METHODS, SparsityConfigError, check_option, make_method, option_names
from sparserl.sweeps import SweepSpecError, expand, load, loads, parse
from sparserl.validation import (
    Range,
    at_least,
    below,
    check_number,
    declared,
    from_text,
    open_unit,
    option,
    positive,
    unit,
)

CONFIGS = [entry.config for entry in AGENTS.values()]


@dataclasses.dataclass(frozen=True)
class Example:
    count: int = option(1, positive)
    rate: float = option(0.5, unit)
    flag: bool = False
    sizes: tuple[int, ...] | None = option(None, at_least(1), nonempty=True)
    names: tuple[str, ...] = ()
    clip: float | None = option(None, below(0))


def check(**values):
    return {n: d.normalise(values[n]) for n, d in declared(Example).items() if n in values}


def test_ranges_read_as_they_check():
    assert [Range(0, 1).bound(), unit.bound(), Range(0, 1, low_open=True).bound()] == [
        "in [0, 1]",
        "in [0, 1]",
        "in (0, 1]",
    ]
    assert positive.describe(int) == "a positive integer"
    assert positive.describe(float) == "a number > 0"
    assert at_least(2).describe(int) == "an integer >= 2" and below(0).describe(float) == (
        "a number < 0"
    )
    assert unit(0.0) and unit(1.0) and not unit(1.0001) and not unit(-1e-9)
    assert positive(1e-12) and not positive(0) and below(0)(-1) and not below(0)(0)
    assert open_unit.describe(float) == "a number in (0, 1)"
    assert open_unit(1e-9) and open_unit(1 - 1e-9) and not open_unit(0.0) and not open_unit(1.0)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"count": 0}, "count must be a positive integer, got 0"),
        ({"count": 2.0}, "count must be a positive integer, got 2.0"),  # not an integer
        ({"count": True}, "count must be a positive integer, got True"),  # bools are not ints
        ({"rate": float("nan")}, "rate must be a number in [0, 1], got nan"),
        ({"rate": float("inf")}, "rate must be a number in [0, 1], got inf"),
        ({"rate": "0.5"}, "rate must be a number in [0, 1], got '0.5'"),
        ({"flag": 1}, "flag must be True or False, got 1"),
        ({"flag": "false"}, "flag must be True or False, got 'false'"),
        ({"sizes": ()}, "sizes must be a non-empty tuple of integers >= 1 or None, got ()"),
        (
            {"sizes": (64, 0)},
            "sizes must be a non-empty tuple of integers >= 1 or None, got (64, 0)",
        ),
        ({"sizes": "64"}, "sizes must be a non-empty tuple of integers >= 1 or None, got '64'"),
        ({"names": (1,)}, "names must be a tuple of strings, got (1,)"),
        ({"clip": 0.0}, "clip must be a number < 0 or None, got 0.0"),
    ],
)
def test_a_value_outside_its_declaration_is_one_line_naming_field_value_and_range(values, message):
    with pytest.raises(ValueError) as error:
        check(**values)
    assert str(error.value) == message


def test_accepted_values_are_normalised():
    assert check(count=np.int64(3), rate=1, clip=None, flag=False) == {
        "count": 3,
        "rate": 1,
        "clip": None,
        "flag": False,
    }
    assert check(sizes=[64, 64])["sizes"] == (64, 64)  # YAML lists
    assert check(sizes=64)["sizes"] == (64,)  # one layer
    assert check(names="head")["names"] == ("head",)  # one layer name, not its letters


def test_a_subclass_changing_a_default_keeps_the_base_range():
    # RainbowConfig redeclares learning_rate (its own default) without a check
    assert "learning_rate" in vars(RainbowConfig)["__annotations__"]
    with pytest.raises(AgentConfigError, match="learning_rate must be a number > 0, got -1"):
        RainbowConfig(learning_rate=-1)
    with pytest.raises(AgentConfigError, match="n_step must be an integer >= 1, got 0"):
        RainbowConfig(n_step=0)


# Numeric options whose every finite value is meaningful; any other must declare a range.
FREE = {"v_min", "v_max", "initial_log_std", "target_entropy", "log_std_min", "log_std_max"}


@pytest.mark.parametrize("cls", [*CONFIGS, *METHODS.values()], ids=lambda c: c.__name__)
def test_every_option_has_a_declared_type_and_every_number_a_range(cls):
    for name, field in declared(cls).items():
        assert field.kind in (bool, int, float, str, tuple) or name == "er_lambda", name
        if field.kind in (int, float) and name not in FREE | {"sparsity"}:
            assert isinstance(field.check, Range), f"{cls.__name__}.{name} has no range"
        if field.kind is str:
            assert field.check is not None, f"{cls.__name__}.{name} has no choices"
    cls(**({"total_steps": 1} if "total_steps" in declared(cls) else {}))  # defaults pass


def test_capacity_rules_cross_fields():
    with pytest.raises(AgentConfigError, match=r"replay_capacity 31 must be at least batch_size"):
        ValueConfig(replay_capacity=31, min_replay=0)
    with pytest.raises(AgentConfigError, match=r"replay_capacity 99 must be at least min_replay"):
        ValueConfig(replay_capacity=99, min_replay=100)
    assert ValueConfig(replay_capacity=100, min_replay=100).replay_capacity == 100
    sac = AGENTS["sac"].config
    with pytest.raises(AgentConfigError, match=r"replay_capacity 10 must be at least learning_s"):
        sac(replay_capacity=10, learning_starts=11, batch_size=8)
    assert sac(replay_capacity=256, learning_starts=256).replay_capacity == 256


def test_agent_config_applies_the_env_family_preset_without_building_the_env():
    config = agent_config("dqn", ENVS["CartPole-v1"], overrides={"gamma": 0.9})
    assert (config.batch_size, config.min_replay, config.gamma) == (128, 500, 0.9)
    with pytest.raises(AgentConfigError, match="replay_capacity 200 must be at least min_replay"):
        agent_config("dqn", ENVS["CartPole-v1"], overrides={"replay_capacity": 200})


# ---- item 5: the options of a method entry ---------------------------------------------------
def test_method_options_are_init_fields_not_class_constants():
    for name in METHODS:
        assert not {"name", "evolves", "uses_gradients"} & set(option_names(name))
    assert option_names("rigl") == [
        "target_policy",
        "sparsity",
        "distribution",
        "dense_layers",
        "dense_output",
        "er_lambda",
        "sparsity_aware_init",
        "total_steps",
        "drop_fraction",
        "update_interval",
        "end_fraction",
    ]
    # a lottery rewind also takes the options of the Prune run that finds its masks
    lottery = option_names("lottery")
    assert {"update_interval", "start_fraction", "end_fraction"} <= set(lottery)
    assert check_option("lottery", "update_interval", 50) == 50
    with pytest.raises(SparsityConfigError, match="update_interval must be a positive integer"):
        check_option("lottery", "update_interval", 0)


def test_a_sweep_lottery_entry_takes_the_options_train_takes():
    base = {"name": "t", "agents": ["dqn"], "envs": ["CartPole-v1"], "steps": 2_000}
    entry = {"name": "lottery", "update_interval": 50}
    (group,) = expand(parse({**base, "methods": [entry], "sparsities": [0.9]}))
    (shared,) = expand(
        parse(
            {
                **base,
                "methods": ["lottery"],
                "sparsities": [0.9],
                "method_options": {"update_interval": 50},
            }
        )
    )
    assert group.method_options == shared.method_options == {"update_interval": 50}
    args = build_parser().parse_args(
        ["train", "dqn", "CartPole-v1", "--method", "lottery", "--method-set", "update_interval=50"]
        + ["--steps", "2000"]
    )
    cli = resolve(_spec(args, (0.9,)))
    prune, lottery = (phase["online"] for phase in resolve(group).phases)
    assert (prune.name, prune.update_interval, lottery.name) == ("prune", 50, "lottery")
    assert resolve(group).phases == cli.phases
    with pytest.raises(SweepSpecError) as error:
        parse({**base, "methods": [{"name": "rigl", "evolves": False}]})
    assert "no option(s) ['evolves']" in str(error.value)
    assert "'name'" not in str(error.value) and "uses_gradients" not in str(error.value)


def test_method_entry_values_are_checked_at_parse_time():
    base = {"name": "t", "agents": ["dqn"], "envs": ["CartPole-v1"]}
    with pytest.raises(SweepSpecError, match=r"methods\[0\]\.drop_fraction: drop_fraction must"):
        parse({**base, "methods": [{"name": "rigl", "drop_fraction": 2}]})
    with pytest.raises(SweepSpecError, match=r"method_options\.update_interval: .* got -5"):
        parse({**base, "methods": ["set"], "method_options": {"update_interval": -5}})
    assert make_method("static", dense_layers="head").dense_layers == ("head",)


# ---- the YAML loader ------------------------------------------------------------------------
BASE = "name: t\nagents: [dqn]\nenvs: [CartPole-v1]\nmethods: [dense]\n"


@pytest.mark.parametrize(
    "text, message",
    [
        # 9 x 9 x 9 x 9 copies of one string once expanded (the grew to 2.3 GB)
        (
            BASE.replace("name: t", "name: &n t")
            + "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            + "seeds: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
            "line 6, column 8: YAML aliases (*a) are not allowed",
        ),
        (BASE + "preset: *n\n", "YAML aliases (*n) are not allowed"),
        (BASE + "seeds: 2\nseeds: 3\n", "line 6, column 1: key 'seeds' given twice"),
        (BASE + "overrides: " + "[" * 30 + "]" * 30 + "\n", "nested more than 20 deep"),
        (BASE + "seeds: [}\n", "not valid YAML: line 5, column 9: expected the node content"),
    ],
)
def test_loader_refuses_aliases_repeats_depth_and_bad_syntax_in_one_line(text, message):
    with pytest.raises(SweepSpecError) as error:
        loads(text)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_loader_reads_exponents_without_a_dot_as_numbers():
    spec = loads(BASE + "sweep: {learning_rate: [1e-3, 3E-4]}\noverrides: {adam_eps: 1e-8}\n")
    assert spec.sweep == {"learning_rate": (0.001, 0.0003)}
    assert spec.overrides == {"adam_eps": 1e-8}


def test_load_names_the_path_of_a_binary_large_or_missing_file(tmp_path):
    binary = tmp_path / "spec.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(SweepSpecError, match=f"^{binary}: not a UTF-8 text file \\(byte 0x89"):
        load(binary)
    big = tmp_path / "big.yaml"
    big.write_text(BASE + "#" * (1 << 20))
    with pytest.raises(SweepSpecError, match=f"^{big}: larger than 1,048,576 bytes"):
        load(big)
    with pytest.raises(SweepSpecError, match="missing.yaml: cannot read the spec"):
        load(tmp_path / "missing.yaml")


def test_command_line_text_is_read_by_the_declared_type():
    rigl = METHODS["rigl"]
    assert from_text(rigl, "dense_layers", "Dense_0, head") == ("Dense_0", "head")
    assert from_text(rigl, "dense_output", "FALSE") is False
    assert from_text(rigl, "update_interval", "250") == 250
    assert from_text(rigl, "distribution", "erk") == "erk"
    assert from_text(rigl, "sparsity", "None") is None  # an optional field
    assert from_text(rigl, "er_lambda", "Dense_0=7,Dense_1=64") == {"Dense_0": 7.0, "Dense_1": 64.0}
    assert from_text(ValueConfig, "hidden", "(64, 64)") == (64, 64)
    # not checked here: a bad value stays as typed, for the config to name
    assert from_text(rigl, "update_interval", "often") == "often"
    with pytest.raises(SparsityConfigError, match="update_interval must be a positive integer"):
        make_method("rigl", total_steps=10, update_interval=from_text(rigl, "update_interval", "0"))


@pytest.mark.parametrize(
    "value, check, integer, message",
    [
        (0, positive, True, "seeds must be a positive integer, got 0"),
        (True, positive, True, "seeds must be a positive integer, got True"),
        (1.5, unit, False, "seeds must be a number in [0, 1], got 1.5"),
        (float("nan"), unit, False, "seeds must be a number in [0, 1], got nan"),
        ("3", None, False, "seeds must be a number, got '3'"),
    ],
)
def test_check_number_gives_the_one_line_message_of_config_fields(value, check, integer, message):
    with pytest.raises(KeyError) as error:
        check_number("seeds", value, check, KeyError, integer=integer)
    assert error.value.args[0] == message
    assert check_number("seeds", 3, positive, KeyError, integer=True) == 3
    assert check_number("seeds", 0.25, unit, KeyError) == 0.25
