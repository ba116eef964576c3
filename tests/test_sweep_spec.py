"""Sweep specs: parsing, grid expansion into groups, checking before any run, presets.
Resolves specs only; nothing trains."""

from __future__ import annotations

import pytest
import yaml

from sparserl import cli
from sparserl.analysis.posthoc import EvalSettings
from sparserl.cli import build_parser
from sparserl.experiment import resolve
from sparserl.sweeps import (
    EVALUATIONS,
    PRESETS,
    SCALES,
    SweepOutcome,
    SweepSpecError,
    check,
    eval_command,
    expand,
    group_id,
    load,
    load_preset,
    loads,
    parse,
    planned_runs,
    preset_evaluation,
)
from sparserl.sweeps.runner import spec_data

BASE = {
    "name": "t",
    "agents": ["dqn"],
    "envs": ["CartPole-v1"],
    "methods": ["dense", "rigl"],
    "sparsities": [0.5, 0.9],
    "steps": 2_000,
}


def spec(**changes):
    return parse({**BASE, **changes})


def test_yaml_text_and_file_give_the_same_spec(tmp_path):
    text = """
name: grid
agents: [dqn, rainbow]
envs: [CartPole-v1]
methods: [dense, {name: rigl, distribution: uniform}]
sparsities: [0.5, 0.9]
seeds: 3
widths: [1.0, 2.0]
steps: {default: 5000, rainbow: 4000}
overrides: {learning_rate: 0.001, rainbow: {num_atoms: 21}}
"""
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    parsed = loads(text)
    assert load(path) == parsed
    assert parsed.methods[1].options == {"distribution": "uniform"}
    assert parsed.steps_for("dqn", "CartPole-v1") == 5000
    assert parsed.steps_for("rainbow", "CartPole-v1") == 4000
    assert parsed.overrides_for("dqn") == {"learning_rate": 0.001}
    assert parsed.overrides_for("rainbow") == {"learning_rate": 0.001, "num_atoms": 21}


def test_grid_counts_groups_and_runs():
    sweep = spec(
        agents=["dqn", "rainbow"],
        envs=["CartPole-v1", "Acrobot-v1"],
        methods=["dense", "prune", "rigl"],
        widths=[1.0, 2.0],
        seeds=3,
    )
    groups = expand(sweep)
    assert len(groups) == 2 * 2 * 3 * 2
    runs = planned_runs(groups)
    # dense: 1 run per seed; prune and rigl: 2 levels x 3 seeds, in every group.
    assert len(runs) == 2 * 2 * 2 * (3 + 2 * 6)
    assert len(set(runs)) == len(runs)
    assert len({group_id(g) for g in groups}) == len(groups)


def test_dense_groups_have_no_levels_and_sparse_groups_have_all():
    groups = expand(spec(seeds=2))
    dense, rigl = groups
    assert dense.method == "dense" and dense.sparsities == ()
    assert rigl.method == "rigl" and rigl.sparsities == (0.5, 0.9) and rigl.seeds == 2


def test_matched_dense_is_one_group_per_level():
    groups = expand(spec(methods=["dense", {"name": "dense", "match_sparsity": True}]))
    assert [g.match_sparsity for g in groups] == [None, 0.5, 0.9]
    assert all(g.method == "dense" and g.sparsities == () for g in groups)
    assert "width" not in groups[1].agent_options
    assert len({group_id(g) for g in groups}) == 3


def test_widths_make_distinct_groups_with_the_width_option():
    groups = expand(spec(methods=["prune"], widths=[1.0, 3.0]))
    assert [g.agent_options["width"] for g in groups] == [1.0, 3.0]
    assert group_id(groups[0]) != group_id(groups[1])
    # Run ids do not name the width: a run's directory is group_id/run_id.
    runs = planned_runs(groups)
    assert len(runs) == 4
    assert [run for _, run in runs[:2]] == [run for _, run in runs[2:]]


def test_shared_method_options_reach_only_methods_that_have_them():
    groups = expand(
        spec(
            methods=["dense", "static", {"name": "rigl", "drop_fraction": 0.1}],
            method_options={"drop_fraction": 0.5, "update_interval": 250},
        )
    )
    dense, static, rigl = groups
    assert dense.method_options == {} and static.method_options == {}
    assert rigl.method_options == {"drop_fraction": 0.1, "update_interval": 250}
    assert "drop_fraction-0.1" in group_id(rigl)


def test_group_ids_are_filesystem_safe_and_stable():
    groups = expand(load_preset("sokar2022-ds-td3", "full"))
    ids = [group_id(g) for g in groups]
    assert ids == [group_id(g) for g in expand(load_preset("sokar2022-ds-td3", "full"))]
    assert all("/" not in i and " " not in i for i in ids)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"envz": ["CartPole-v1"]}, ["'envz'", "allowed keys", "'envs'"]),
        ({"seeds": "3"}, ["seeds", "'3'", "str", "positive integer"]),
        ({"seeds": True}, ["seeds", "positive integer"]),
        ({"sparsities": [0.5, 1.5]}, ["sparsities", "1.5", "[0, 1)"]),
        ({"widths": [0]}, ["widths", "positive"]),
        ({"agents": []}, ["agents", "empty"]),
        ({"methods": []}, ["methods", "empty"]),
        ({"agents": "dqn"}, ["agents", "'dqn'", "list"]),
        ({"agents": ["dqm"]}, ["'dqm'", "'dqn'", "'sac'"]),
        ({"envs": ["CartPole"]}, ["'CartPole'", "'CartPole-v1'"]),
        ({"methods": ["rigel"]}, ["methods[0]", "'rigel'", "'rigl'"]),
        ({"methods": [{"name": "rigl", "drop": 0.1}]}, ["methods[0]", "'drop'", "drop_fraction"]),
        ({"methods": [{"name": "rigl", "sparsity": 0.8}]}, ["'sparsity'", "allowed"]),
        ({"methods": [{"name": "rigl", "match_sparsity": True}]}, ["match_sparsity", "dense"]),
        ({"methods": ["rigl", "rigl"]}, ["methods", "more than once"]),
        ({"methods": [{"name": "dense", "match_sparsity": True}], "widths": [2.0]}, ["widths"]),
        ({"steps": {"dqn": 1000, "pong": 5}}, ["steps", "'pong'", "'default'"]),
        ({"steps": 0}, ["steps", "positive integer"]),
        ({"overrides": {"width": 2.0}}, ["overrides", "widths"]),
        ({"overrides": {"sac": {"tau": 0.01}}}, ["overrides.sac", "agents"]),
        ({"method_options": {"drop_fraction": 0.1}, "methods": ["static"]}, ["drop_fraction"]),
        ({"sweep": {"batch_size": [32, 64]}}, ["sweep", "'batch_size'", "learning_rate"]),
        ({"name": None}, ["name", "string"]),
    ],
)
def test_bad_specs_name_the_key_and_the_allowed_values(changes, words):
    with pytest.raises(SweepSpecError) as error:
        spec(**changes)
    for word in words:
        assert word in str(error.value)


def test_missing_keys_and_bad_yaml_are_errors():
    with pytest.raises(SweepSpecError, match="missing key.*'methods'"):
        parse({k: v for k, v in BASE.items() if k != "methods"})
    with pytest.raises(SweepSpecError, match="YAML"):
        loads("agents: [dqn")
    with pytest.raises(SweepSpecError, match="mapping"):
        loads("- dqn")


def test_check_names_every_failing_group_before_any_run():
    groups = expand(spec(agents=["dqn", "sac"], methods=["dense", "rigl", "lottery"]))
    with pytest.raises(SweepSpecError) as error:
        check(groups)
    message = str(error.value)
    assert message.startswith("3 of 6 group(s) cannot run")
    assert "sac needs continuous actions" in message
    for method in ("dense", "rigl", "lottery"):
        assert f"sac_CartPole-v1_{method}_" in message
    assert "dqn_CartPole-v1" not in message


def test_check_reports_run_settings_per_group():
    groups = expand(spec(steps=2_001))
    with pytest.raises(SweepSpecError, match="steps 2001 must be a multiple"):
        check(groups)


def test_check_passes_a_good_grid():
    check(expand(spec(agents=["dqn", "rainbow"], methods=["dense", "static", "prune"])))


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("scale", SCALES)
def test_every_preset_parses_and_expands(name, scale):
    sweep = load_preset(name, scale)
    groups = expand(sweep)
    assert groups and planned_runs(groups)
    assert len({group_id(g) for g in groups}) == len(groups)


@pytest.mark.parametrize("name", list(PRESETS))
def test_smoke_presets_resolve(name):
    check(expand(load_preset(name, "smoke")))


@pytest.mark.parametrize(
    "name",
    [
        "sokar2022-ds-td3",
        "obando2024-width",
        "minatar-classic",
        "graesser2022-snr",
        "obando2024-analysis",
    ],
)
def test_full_presets_without_matched_dense_resolve(name):
    check(expand(load_preset(name, "full")))


def test_preset_sizes_follow_the_papers():
    classic = expand(load_preset("graesser2022-classic", "full"))
    # 3 envs x (dense + 5 matched levels + 4 ERK + 4 uniform sparse methods)
    assert len(classic) == 3 * 14
    assert all(g.steps == 100_000 and g.seeds == 10 for g in classic)
    sokar = expand(load_preset("sokar2022-ds-td3", "full"))
    assert {g.method for g in sokar} == {"dense", "static", "ds"}
    assert all(g.steps == 1_000_000 and g.preset == "ds-td3" for g in sokar)
    obando = expand(load_preset("obando2024-width", "full"))
    assert {g.agent_options["width"] for g in obando} == {1.0, 3.0, 5.0}


GRAESSER_LEVELS = (0.5, 0.8, 0.9, 0.95, 0.99)


@pytest.mark.parametrize(
    ("name", "agent", "envs", "seeds"),
    [
        ("graesser2022-snr", "dqn", ["CartPole-v1", "Acrobot-v1", "MountainCar-v0"], 10),
        ("graesser2022-snr-mujoco", "sac", ["HalfCheetah-v5", "Hopper-v5", "Walker2d-v5"], 10),
    ],
)
def test_snr_presets_probe_dense_rigl_and_set_from_half_to_99_percent(name, agent, envs, seeds):
    """Graesser et al. 2022, Fig. 5: per env, one dense group and one RigL and one SET group
    holding all five levels, every run probed at every evaluation."""
    groups = expand(load_preset(name, "full"))
    envs_run = sorted({g.env for g in groups})
    assert set(envs) <= set(envs_run) and {g.agent for g in groups} == {agent}
    assert sorted(g.method for g in groups if g.env == envs[0]) == ["dense", "rigl", "set"]
    assert {g.sparsities for g in groups if g.method != "dense"} == {GRAESSER_LEVELS}
    assert len(planned_runs(groups)) == len(envs_run) * seeds * (1 + 2 * 5)
    assert all(g.diagnostics_every == 1 and g.seeds == seeds for g in groups)
    smoke = expand(load_preset(name, "smoke"))
    assert len(planned_runs(smoke)) == 2 * (1 + 2 * 3)  # 2 seeds; levels 0.5, 0.9, 0.99
    assert all(g.diagnostics_every == 1 for g in smoke)


def test_noise_preset_trains_three_parameter_budgets_then_evaluates_under_noise():
    """Graesser et al. 2022, Fig. 6: 100%, 50% and 10% of the dense parameter count (dense,
    the dense network narrowed to each budget, RigL and SET at 50% and 90%) on Pong, MsPacman
    and Qbert, 5 seeds, then `sparserl eval` at sigma 0, 1, ..., 30."""
    groups = expand(load_preset("graesser2022-noise", "full"))
    assert sorted({g.env for g in groups}) == ["ALE/MsPacman-v5", "ALE/Pong-v5", "ALE/Qbert-v5"]
    pong = [g for g in groups if g.env == "ALE/Pong-v5"]
    assert [(g.method, g.match_sparsity, g.sparsities) for g in pong] == [
        ("dense", None, ()),
        ("dense", 0.5, ()),
        ("dense", 0.9, ()),
        ("rigl", None, (0.5,)),  # 5 runs per program on Atari: one level each
        ("rigl", None, (0.9,)),
        ("set", None, (0.5,)),
        ("set", None, (0.9,)),
    ]
    assert len(planned_runs(groups)) == 3 * 5 * (1 + 2 + 2 * 2)  # envs x seeds x runs
    full = preset_evaluation("graesser2022-noise", "full")
    assert full == EvalSettings(sigmas=tuple(range(31)))
    assert preset_evaluation("graesser2022-noise", "smoke").sigmas == (0, 5, 10, 15, 20, 25, 30)
    # the command `sparserl sweep` prints parses back to the same settings
    command = eval_command("graesser2022-noise", "full", "runs/noise")
    args = build_parser().parse_args(command.split()[1:])
    assert (args.dir, EvalSettings(args.sigmas, args.episodes, args.observations)) == (
        "runs/noise",
        full,
    )
    assert set(EVALUATIONS) == {"graesser2022-noise"}
    assert eval_command("obando2024-analysis", "full", "runs/x") is None
    with pytest.raises(SweepSpecError, match="unknown sweep preset 'graesser2021'"):
        preset_evaluation("graesser2021")


@pytest.mark.parametrize(
    ("name", "then"), [("graesser2022-noise", True), ("graesser2022-snr", False)]
)
def test_a_preset_sweep_prints_the_eval_command_its_design_adds(name, then, tmp_path, capsys):
    """`sparserl sweep` (its runs replaced by a stand-in) ends with the post-hoc command."""
    out = tmp_path / "runs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli, "run_sweep", lambda spec, out, **_: SweepOutcome(finished=14))
        assert cli.main(["sweep", name, "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"{out}: 14 run(s) finished, 0 failed, 0 kept from before"
    command = eval_command(name, "smoke", out)
    assert printed[1:] == ([f"then, to complete the preset's design: {command}"] if then else [])


def test_obando_analysis_preset_is_section_5s_design_and_a_cpu_study():
    """Obando-Ceron et al. 2024, Sec. 5: DQN, Impala x3, dense vs 95% pruning on BeamRider,
    Breakout, Enduro and VideoPinball, 5 seeds; the smoke scale is issue 16's CPU study."""
    groups = expand(load_preset("obando2024-analysis", "full"))
    assert sorted({g.env for g in groups}) == [
        "ALE/BeamRider-v5",
        "ALE/Breakout-v5",
        "ALE/Enduro-v5",
        "ALE/VideoPinball-v5",
    ]
    assert {(g.method, g.sparsities) for g in groups} == {("dense", ()), ("prune", (0.95,))}
    assert all(g.agent_options["torso"] == "impala" for g in groups)
    assert all(g.agent_options["width"] == 3.0 for g in groups)
    assert len(planned_runs(groups)) == 4 * 2 * 5
    assert all(g.steps == 10_000_000 and g.diagnostics_every == 1 for g in groups)
    smoke = expand(load_preset("obando2024-analysis", "smoke"))
    assert {(g.env, g.method, g.sparsities, g.seeds) for g in smoke} == {
        ("Breakout-MinAtar", "dense", (), 3),
        ("Breakout-MinAtar", "prune", (0.9,), 3),
        ("Breakout-MinAtar", "rigl", (0.9,), 3),
    }
    assert all(g.diagnostics_every == 1 for g in smoke)


def test_unknown_preset_or_scale_lists_the_allowed_ones():
    with pytest.raises(SweepSpecError, match="graesser2022-classic"):
        load_preset("graesser2023")
    with pytest.raises(SweepSpecError, match="'smoke', 'full'"):
        load_preset("graesser2022-classic", "huge")


def test_groups_over_the_run_limit_split_by_sparsity_level():
    levels = [0.5, 0.8, 0.9, 0.95, 0.99]
    methods = ["dense", {"name": "dense", "match_sparsity": True}, "rigl"]
    whole = expand(spec(methods=methods, sparsities=levels, seeds=5))
    split = expand(spec(methods=methods, sparsities=levels, seeds=5, max_runs_per_group=10))
    # dense: 5 runs; matched dense: one group per level; rigl: 25 runs -> 2 + 2 + 1 levels
    assert len(whole) == 1 + 5 + 1 and len(split) == 1 + 5 + 3
    rigl = [g for g in split if g.method == "rigl"]
    assert [g.sparsities for g in rigl] == [(0.5, 0.8), (0.9, 0.95), (0.99,)]
    assert group_id(rigl[0]) == "dqn_CartPole-v1_rigl_levels-0.5+0.8_width1"
    assert max(len(g.sparsities or (None,)) * g.seeds for g in split) == 10
    # the same runs, under other group directories
    assert sorted(r for _, r in planned_runs(split)) == sorted(r for _, r in planned_runs(whole))
    assert len({gid for gid, _ in planned_runs(split)}) == 9
    with pytest.raises(
        SweepSpecError, match=r"max_runs_per_group 3 is below .*\(5 seeds x swept values = 5\)"
    ):
        expand(spec(seeds=5, max_runs_per_group=3))
    with pytest.raises(SweepSpecError, match="max_runs_per_group: expected a positive integer"):
        spec(max_runs_per_group=0)


def test_save_networks_every_reaches_every_group_and_the_sweep_file():
    assert {g.save_networks_every for g in expand(spec())} == {None}
    saving = spec(save_networks_every=2)
    assert {g.save_networks_every for g in expand(saving)} == {2}
    assert spec_data(saving)["save_networks_every"] == 2 and parse(spec_data(saving)) == saving
    assert [group_id(g) for g in expand(saving)] == [group_id(g) for g in expand(spec())]
    for bad in (0, 1.5, True):
        with pytest.raises(SweepSpecError, match="save_networks_every: expected a positive int"):
            spec(save_networks_every=bad)


def test_axes_make_one_group_per_value_named_in_its_id():
    """Issue 14, item 4: an agent option, a method option and actor_fraction as sweep axes;
    each applies to the groups that have it (dense has no update_interval, DQN no
    actor_fraction), each value is its own group with the value in its id."""
    sweep = spec(
        agents=["dqn", "sac"],
        envs=["Pendulum-v1"],
        methods=["dense", "rigl"],
        sparsities=[0.9],
        steps=1_000,
        axes={"batch_size": [16, 32], "update_interval": [100, 500], "actor_fraction": [0.3]},
    )
    ids = [group_id(g) for g in expand(sweep)]
    assert ids == [
        "dqn_Pendulum-v1_dense_batch_size-16_width1",
        "dqn_Pendulum-v1_dense_batch_size-32_width1",
        "dqn_Pendulum-v1_rigl_update_interval-100_batch_size-16_levels-0.9_width1",
        "dqn_Pendulum-v1_rigl_update_interval-500_batch_size-16_levels-0.9_width1",
        "dqn_Pendulum-v1_rigl_update_interval-100_batch_size-32_levels-0.9_width1",
        "dqn_Pendulum-v1_rigl_update_interval-500_batch_size-32_levels-0.9_width1",
        "sac_Pendulum-v1_dense_batch_size-16_width1",
        "sac_Pendulum-v1_dense_batch_size-32_width1",
    ] + [
        f"sac_Pendulum-v1_rigl_update_interval-{u}_actor_fraction-0.3_batch_size-{b}"
        "_levels-0.9_width1"
        for b in (16, 32)
        for u in (100, 500)
    ]
    rigl = expand(sweep)[-1]
    assert rigl.agent_options == {"batch_size": 32, "width": 1.0}
    assert rigl.method_options == {"update_interval": 500}
    assert rigl.actor_fraction == 0.3
    dense = expand(sweep)[0]
    assert dense.method_options == {} and dense.actor_fraction is None
    # every run has its own directory: group ids differ where run ids repeat
    runs = planned_runs(expand(sweep))
    assert len(runs) == 2 * (2 + 4) * 1 and len(set(runs)) == len(runs)


def test_axes_resolve_and_survive_the_sweep_file():
    """An axis spec is checked like any other, and reads back from sweep.yaml as the same
    sweep (so a rerun resumes the same run directories)."""
    sweep = spec(axes={"replay_ratio": [0.25, 1], "drop_fraction": [0.1, 0.3]})
    check(expand(sweep))
    back = parse(yaml.safe_load(yaml.safe_dump(spec_data(sweep), sort_keys=False)))
    assert back == sweep
    assert planned_runs(expand(back)) == planned_runs(expand(sweep))
    replay = [g.agent_options["replay_ratio"] for g in expand(sweep)]
    assert replay == [0.25, 1, 0.25, 0.25, 1, 1]  # dense per ratio, rigl per ratio and fraction
    with pytest.raises(SweepSpecError, match="replay_ratio 0.3 must be an integer or 1/k"):
        check(expand(spec(axes={"replay_ratio": [0.3]})))


@pytest.mark.parametrize(
    ("axes", "changes", "words"),
    [
        ({"replay_ratios": [1]}, {}, ["axes.replay_ratios", "none of the agents", "replay_ratio"]),
        ({"drop_fraction": [0.1]}, {"methods": ["dense", "static"]}, ["'drop_fraction'"]),
        ({"actor_fraction": [0.5]}, {}, ["'actor_fraction'", "allowed"]),
        ({"width": [1, 3]}, {}, ["axes.width", "'widths'"]),
        ({"sparsity": [0.5]}, {}, ["axes.sparsity", "'sparsities'"]),
        ({"replay_ratio": []}, {}, ["axes.replay_ratio", "empty"]),
        ({"replay_ratio": 1}, {}, ["axes.replay_ratio", "list"]),
        ({"replay_ratio": [1, 1.0]}, {}, ["axes.replay_ratio", "more than once"]),
        ({"hidden": [[16], [32]]}, {}, ["axes.hidden", "numbers, strings or booleans"]),
        ({"batch_size": [16]}, {"overrides": {"batch_size": 8}}, ["axes.batch_size", "one place"]),
        (
            {"drop_fraction": [0.1]},
            {"methods": [{"name": "rigl", "drop_fraction": 0.2}]},
            ["axes.drop_fraction", "one place"],
        ),
        ({"learning_rate": [0.1]}, {"sweep": {"learning_rate": [1e-3]}}, ["one place"]),
        ([1], {}, ["axes", "mapping"]),
    ],
)
def test_bad_axes_name_the_axis_and_the_allowed_values(axes, changes, words):
    with pytest.raises(SweepSpecError) as error:
        spec(axes=axes, **changes)
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize(("scale", "updates"), [("smoke", 4_876), ("full", 24_876)])
def test_graesser_classic_trains_the_updates_its_comment_states(scale, updates):
    """Issue 14, item 6: sweeps/presets.py says graesser2022-classic trains at replay ratio
    0.25: (steps / 4 - 124 warm-up iterations of the 500-step min_replay) updates."""
    group = expand(load_preset("graesser2022-classic", scale))[0]
    resolved = resolve(group)
    assert resolved.agent.config.replay_ratio == 0.25
    assert resolved.total_updates == updates == group.steps // 4 - 124


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("scale", SCALES)
def test_every_preset_reads_back_from_its_sweep_file(name, scale):
    """A rerun compares sweep.yaml with the spec: it must parse back to the same spec (an
    empty sparsities list, as sokar2022-ds-td3's, did not)."""
    sweep = load_preset(name, scale)
    assert parse(yaml.safe_load(yaml.safe_dump(spec_data(sweep), sort_keys=False))) == sweep


def test_axis_values_are_checked_against_the_declared_ranges():
    base = {"name": "x", "agents": ["dqn"], "envs": ["CartPole-v1"], "methods": ["rigl"]}
    with pytest.raises(SweepSpecError, match=r"axes.learning_rate: learning_rate must be .*> 0"):
        parse({**base, "axes": {"learning_rate": [1e-3, -1e-3]}})
    with pytest.raises(SweepSpecError, match=r"axes.drop_fraction: drop_fraction must be"):
        parse({**base, "axes": {"drop_fraction": [0.3, 1.5]}})
    with pytest.raises(SweepSpecError, match=r"axes.batch_size: batch_size must be an integer"):
        parse({**base, "axes": {"batch_size": [32, 0.5]}})
