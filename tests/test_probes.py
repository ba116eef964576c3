"""The in-loop probe: its columns in every loop family with values in their ranges, training
bit-identical with it on or off, mask turnover (0 for Static, > 0 for SET), the probe equal to
the measures computed by hand on the same batch, its schedule and its options' errors."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from sparserl.analysis import (
    dormant_fraction,
    gradient_snr,
    hidden_activations,
    parameter_norm,
    per_example_gradients,
    q_statistics,
    srank,
)
from sparserl.cli import main
from sparserl.experiment import ONLINE, TrainConfigError, TrainSpec, resolve
from sparserl.rundir import load_gradient_cosines
from sparserl.rundir.schema import (
    DIAGNOSTICS,
    GRADIENT_SNR,
    Q_STATISTICS,
    diagnostic_column,
    diagnostic_key,
)
from sparserl.sweeps import SweepSpecError, parse
from sparserl.train import Diagnostics, make_program, make_runner, probe_key, train

DQN_SMALL = {
    "hidden": (16, 16),
    "batch_size": 8,
    "min_replay": 64,
    "target_update_period": 40,
    "replay_capacity": 500,
}
SAC_SMALL = {"hidden": (32, 32), "learning_starts": 20, "batch_size": 16}
PPO_SMALL = {"hidden": (32, 32), "num_envs": 2, "num_steps": 64, "minibatch_size": 32}

DQN_SPEC = TrainSpec(
    "dqn",
    "CartPole-v1",
    method="set",
    sparsities=(0.8,),
    steps=400,
    eval_interval=100,
    eval_episodes=2,
    agent_options=DQN_SMALL,
    method_options={"update_interval": 10},
)
# Static actor, SET critic: one run shows turnover 0 and > 0.
SAC_SPEC = TrainSpec(
    "sac",
    "Pendulum-v1",
    method="set",
    sparsities=(0.5,),
    steps=60,
    eval_interval=20,
    eval_episodes=1,
    agent_options=SAC_SMALL,
    network_options={"actor": {"method": "static"}, "critic": {"update_interval": 5}},
)
PPO_SPEC = TrainSpec(
    "ppo",
    "CartPole-v1",
    method="set",
    sparsities=(0.5,),
    steps=512,
    eval_interval=128,
    eval_episodes=1,
    agent_options=PPO_SMALL,
    method_options={"update_interval": 2},
)
SPECS = {"dqn": DQN_SPEC, "sac": SAC_SPEC, "ppo": PPO_SPEC}
NETWORKS = {"dqn": (ONLINE,), "sac": ("actor", "critic"), "ppo": ("actor", "critic")}
Q_NETWORKS = {"dqn": (ONLINE,), "sac": ("critic",), "ppo": ("critic",)}


def quiet(*_):
    return type("Quiet", (), {"update": lambda self, *a: None})()


@pytest.fixture(scope="module", params=list(SPECS))
def trained(request, tmp_path_factory):
    """(family, metrics with diagnostics on, metrics with them off, the run directory on)."""
    spec = SPECS[request.param]
    frames = []
    for every in (1, 0):
        out = tmp_path_factory.mktemp(f"{request.param}{every}")
        (result,) = train(dataclasses.replace(spec, diagnostics_every=every), out, progress=quiet)
        frames.append((pd.read_csv(out / result.run_id / "metrics.csv"), out / result.run_id))
    return request.param, frames[0][0], frames[1][0], frames[0][1]


def test_probe_columns_hold_values_in_their_ranges(trained):
    family, metrics, _, _ = trained
    hidden = len(SPECS[family].agent_options["hidden"])
    probed = metrics[diagnostic_column(NETWORKS[family][0], "srank")].notna()
    # SAC learns from step 20, its first evaluation: that row has no probe, the others do
    assert list(probed) == ([False, True, True] if family == "sac" else [True] * 4)
    metrics = metrics[probed]
    for network in NETWORKS[family]:

        def column(key, network=network):
            return metrics[diagnostic_column(network, key)].to_numpy()

        dormant = column("dormant_fraction")
        assert ((dormant >= 0) & (dormant <= 1)).all()
        layers = [
            c for c in metrics if c.startswith(diagnostic_column(network, "dormant_fraction/"))
        ]
        assert len(layers) == hidden * (2 if network == "critic" and family == "sac" else 1)
        ranks = column("srank")
        assert (ranks == np.round(ranks)).all()  # integers (a column with empty cells is float)
        assert ((ranks >= 1) & (ranks <= 32)).all()
        assert (column(GRADIENT_SNR) > 0).all() and np.isfinite(column(GRADIENT_SNR)).all()
        assert (column("parameter_norm") > 0).all()
        turnover = [
            c for c in metrics if c.startswith(diagnostic_column(network, "mask_turnover/"))
        ]
        assert turnover and all(((metrics[c] >= 0) & (metrics[c] <= 1)).all() for c in turnover)
        has_q = network in Q_NETWORKS[family]
        for name in Q_STATISTICS:
            assert (diagnostic_column(network, name) in metrics) == has_q
        if has_q:
            assert (column("q_variance") >= 0).all() and (column("q_target_variance") >= 0).all()
            assert (column("q_norm") >= np.abs(column("q_mean")) - 1e-6).all()


def test_training_is_bit_identical_with_the_probe_on_or_off(trained):
    _, on, off, _ = trained
    assert not [c for c in off if c.startswith(DIAGNOSTICS)]  # off: no columns at all
    kept = [c for c in off if c != "wall_s"]
    assert list(on.columns[: len(off.columns)]) == list(off.columns)
    pd.testing.assert_frame_equal(on[kept], off[kept], check_exact=True)


def test_gradient_cosine_matrices_are_saved_at_three_probes(trained):
    family, metrics, _, run_dir = trained
    saved = load_gradient_cosines(run_dir)
    steps = list(metrics["step"][metrics[diagnostic_column(NETWORKS[family][0], "srank")].notna()])
    assert list(saved) == sorted({steps[0], steps[len(steps) // 2], steps[-1]})
    for matrices in saved.values():
        assert set(matrices) == set(NETWORKS[family])
        for matrix in matrices.values():
            n = matrix.shape[0]
            assert matrix.shape == (n, n) and np.allclose(np.diag(matrix), 1.0, atol=1e-4)
            assert np.allclose(matrix, matrix.T, atol=1e-6) and (np.abs(matrix) <= 1 + 1e-5).all()


def test_static_masks_never_turn_over_and_set_ones_do(trained):
    family, metrics, _, _ = trained
    if family != "sac":
        pytest.skip("the SAC run has a Static actor and a SET critic")
    metrics = metrics.iloc[1:]  # the probes at steps 40 and 60
    actor = [c for c in metrics if c.startswith(diagnostic_column("actor", "mask_turnover/"))]
    critic = [c for c in metrics if c.startswith(diagnostic_column("critic", "mask_turnover/"))]
    assert len(actor) == 3 and (metrics[actor].to_numpy() == 0).all()
    # SET on the critic: 4 topology updates (every 5 of its 20 updates) before the first probe
    assert len(critic) == 6 and metrics[critic].to_numpy()[0].max() > 0


def test_probe_equals_the_measures_by_hand_on_the_same_batch():
    """The probe of DQN's online network after two chunks, against the measures computed
    directly on the runner's networks (what a networks file saves) and the batch drawn with
    the probe's key."""
    plan = resolve(dataclasses.replace(DQN_SPEC, diagnostics_every=1))
    runner = make_runner(plan)
    for chunk in range(2):
        runner.chunk(chunk)
    program, runs = runner.program, runner.runs
    one = jax.tree.map(lambda x: x[0], runs)
    _, probed = jax.jit(program.probe_runs)(runs, True, False)
    got = {k: float(v[0]) for k, v in probed["diagnostics"][ONLINE].items()}

    sample_key, key = jax.random.split(probe_key(one.key))
    _, _, batch = program.replay.sample(
        one.buffer, sample_key, one.gamma, plan.agent.config.batch_size
    )
    net, agent, apply = runner.networks()[ONLINE], plan.agent, program.network.apply
    params = jax.tree.map(lambda x: x[0], net.params)
    masks = jax.tree.map(lambda x: x[0], net.sparse.masks)
    target = jax.tree.map(lambda x: x[0], net.target)
    activations = hidden_activations(program.network, params, batch["obs"])
    dormant, per_layer = dormant_fraction(activations)

    def loss(p, example):
        return jnp.mean(agent.per_example_loss(apply, p, target, example, key))

    grads = per_example_gradients(loss, params, batch)
    expected = {
        "dormant_fraction": dormant,
        "dormant_fraction/hidden0": per_layer[0],
        "dormant_fraction/hidden1": per_layer[1],
        "srank": srank(activations[-1]),
        "gradient_snr": gradient_snr(grads, masks),
        "parameter_norm": parameter_norm(params, masks),
        **q_statistics(
            apply(params, batch["obs"]), agent.q_targets(apply, params, target, batch, key)
        ),
    }
    for name, value in expected.items():
        assert got[name] == pytest.approx(float(value), rel=1e-5, abs=1e-7), name


def test_the_schedule_probes_once_learning_started_and_picks_three_cosine_points():
    # 10 evaluations 100 steps apart, learning from step 250: chunks 2.. learn
    every_one = Diagnostics(every=1, batch_size=32, interval=100, chunks=10, learning_starts=250)
    assert every_one.probes == tuple(range(2, 10)) and every_one.cosines == (2, 6, 9)
    every_three = dataclasses.replace(every_one, every=3)
    assert every_three.probes == (2, 5, 8) and every_three.cosines == (2, 5, 8)
    never = dataclasses.replace(every_one, learning_starts=1000)
    assert never.probes == () and never.cosines == ()


def test_column_names():
    assert diagnostic_column("critic", diagnostic_key("srank")) == "diag/critic/srank"
    assert diagnostic_key("dormant_fraction", 1) == "dormant_fraction/hidden1"
    key = diagnostic_key("mask_turnover", "encoder/dense_0")
    assert diagnostic_column("online", key) == "diag/online/mask_turnover/encoder/dense_0"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"diagnostics_every": -1}, "diagnostics_every must be an integer >= 0, got -1"),
        ({"diagnostics_every": 1.5}, "diagnostics_every must be an integer >= 0, got 1.5"),
        ({"diagnostics_batch": 0}, "diagnostics_batch must be a positive integer, got 0"),
    ],
)
def test_bad_probe_options_are_refused_before_training(changes, message):
    with pytest.raises(TrainConfigError, match=message.replace("(", r"\(")):
        resolve(dataclasses.replace(DQN_SPEC, **changes))


def test_a_probe_batch_larger_than_the_rollout_is_refused():
    with pytest.raises(TrainConfigError, match=r"diagnostics_batch 129 is larger than the rollout"):
        resolve(dataclasses.replace(PPO_SPEC, diagnostics_batch=129))


def test_cli_and_sweep_options_reach_the_train_spec(capsys):
    code = main(["train", "dqn", "CartPole-v1", "--steps", "100", "--diagnostics-every", "-2"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("diagnostics_every must be an integer >= 0, got -2")
    base = {"name": "s", "agents": ["dqn"], "envs": ["CartPole-v1"], "methods": ["dense"]}
    assert parse(base).diagnostics_every == 10 and parse(base).diagnostics_batch is None
    spec = parse({**base, "diagnostics_every": 0, "diagnostics_batch": 64})
    assert (spec.diagnostics_every, spec.diagnostics_batch) == (0, 64)
    with pytest.raises(SweepSpecError, match="diagnostics_every: expected a non-negative"):
        parse({**base, "diagnostics_every": -1})


def test_config_json_records_the_probe_settings(trained):
    family, _, _, run_dir = trained
    config = json.loads((run_dir / "config.json").read_text())
    batch = {"dqn": 8, "sac": 16, "ppo": 32}[family]  # the training minibatch by default
    assert (config["diagnostics_every"], config["diagnostics_batch"]) == (1, batch)


def test_atari_program_probes_the_online_network_on_frame_replay():
    """The host-stepped Atari loop's probe (its own compiled call), on stacks rebuilt from
    frame replay after 70 steps of a quarter-width Nature CNN (no update: seconds)."""
    spec = TrainSpec(
        "dqn",
        "ALE/Pong-v5",
        steps=400,
        eval_interval=200,
        agent_options={"width": 0.25, "min_replay": 128, "replay_capacity": 128},
        diagnostics_every=1,
        diagnostics_batch=8,
    )
    runner = make_runner(resolve(spec))
    runner.advance(0, 70)
    _, probed = runner.program.compiled_probe(runner.runs, True, True)
    measures = {k: float(v[0]) for k, v in probed["diagnostics"][ONLINE].items()}
    assert 0 <= measures["dormant_fraction"] <= 1
    assert [k for k in measures if k.startswith("dormant_fraction/")] == [
        f"dormant_fraction/hidden{i}"
        for i in range(4)  # 3 conv layers and the dense one
    ]
    assert 1 <= measures["srank"] <= 8  # at most the batch
    assert measures["gradient_snr"] > 0 and measures["parameter_norm"] > 0
    assert all(measures[f"mask_turnover/{k}"] == 0 for k in ("encoder/conv_0", "head"))
    matrix = np.asarray(probed["gradient_cosine"][ONLINE][0])
    assert matrix.shape == (8, 8) and np.allclose(np.diag(matrix), 1.0, atol=1e-4)
    runner.close()


def test_a_run_without_a_probe_compiles_none():
    # 4 evaluations: at the default cadence (every 10th) none probes, so no probe is compiled
    assert resolve(DQN_SPEC).spec.diagnostics_every == 10
    assert make_program(resolve(DQN_SPEC)).diagnostics is None
    every_one = dataclasses.replace(DQN_SPEC, diagnostics_every=1)
    assert make_program(resolve(every_one)).diagnostics.probes == (0, 1, 2, 3)
