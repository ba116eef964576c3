"""Value agents on host-stepped Atari games: what the replay stores against what the agent
saw, resuming mid-episode, the Atari 100k presets' environment, and a smoke run per agent."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sparserl.sparsity as sp
from sparserl.envs import EnvConfigError, make_env
from sparserl.experiment import TrainConfigError, TrainSpec, resolve
from sparserl.replay import frames
from sparserl.train import make_runner, train

PONG = "ALE/Pong-v5"
# A quarter-width Nature CNN (8/16/16 channels, 128 units): the same code paths, CI-sized.
SMALL = {"width": 0.25, "epsilon_decay_steps": 500}


def quiet(*_):
    return type("Quiet", (), {"update": lambda self, *a: None})()


def test_replay_holds_what_each_run_acted_on_and_a_resume_cuts_the_episode():
    spec = TrainSpec(
        "dqn",
        PONG,
        seeds=2,
        steps=400,
        eval_interval=200,
        env_options={"max_episode_steps": 30},  # truncations at steps 29 and 59
        agent_options={**SMALL, "min_replay": 128, "replay_capacity": 128},
    )
    runner = make_runner(resolve(spec))
    seen = []
    step = runner.vector.step

    def recording_step(actions):
        result = step(actions)
        seen.append((runner.obs.copy(), np.asarray(actions).copy(), result))
        return result

    runner.vector.step = recording_step
    runner.advance(0, 70)
    buffer = runner.runs.buffer
    for run in range(2):
        replay = jax.tree.map(lambda x, r=run: x[r], buffer)
        stacks = frames.stacked_frames(replay, jnp.arange(70))
        for t, (obs, actions, result) in enumerate(seen):
            assert (np.asarray(stacks[t]) == obs[run]).all(), (run, t)
            assert int(replay.storage["action"][t]) == actions[run]
            assert float(replay.storage["reward"][t]) == np.clip(result.reward[run], -1, 1)
            assert bool(replay.storage["terminal"][t]) == result.terminated[run]
            ended = result.terminated[run] | result.truncated[run]
            assert bool(replay.storage["episode_end"][t]) == ended
        assert np.flatnonzero(np.asarray(replay.storage["episode_end"])).tolist() == [29, 59]

    runner.restore(runner.checkpoint(), 1)  # games restart mid-episode: the replay's episode ends
    ends = np.asarray(runner.runs.buffer.storage["episode_end"])
    assert ends[:, 69].all() and ends[:, :69].sum() == 4
    assert (runner.obs[..., :3] == 0).all()  # fresh stacks
    runner.close()


def test_atari_100k_presets_play_without_sticky_actions():
    def env_of(**changes):
        spec = TrainSpec("dqn", PONG, steps=100_000, **changes)
        return resolve(spec).env

    assert env_of().repeat_action_probability == 0.25 and not env_of().terminal_on_life_loss
    drq = env_of(preset="drq_eps")
    assert drq.repeat_action_probability == 0.0 and drq.terminal_on_life_loss
    spec = TrainSpec("rainbow", PONG, preset="der", steps=10_000)
    assert resolve(spec).env.repeat_action_probability == 0.0
    sticky = env_of(preset="drq_eps", env_options={"repeat_action_probability": 0.1})
    assert sticky.repeat_action_probability == 0.1 and sticky.max_episode_steps == 27_000
    network = resolve(TrainSpec("dqn", PONG, steps=100_000)).agent.network(make_env(PONG))
    assert network.input_scale == 1 / 255  # Dopamine: uint8 frames / 255


def test_bad_environment_options_and_augmentation_are_refused():
    with pytest.raises(EnvConfigError, match=r"no option\(s\) \['sticky'\].*max_episode_steps"):
        resolve(TrainSpec("dqn", PONG, env_options={"sticky": 0.0}))
    with pytest.raises(EnvConfigError, match="repeat_action_probability.*got 'no'"):
        resolve(TrainSpec("dqn", PONG, env_options={"repeat_action_probability": "no"}))
    with pytest.raises(EnvConfigError, match=r"CartPole-v1 has no option\(s\)"):
        resolve(TrainSpec("dqn", "CartPole-v1", env_options={"max_episode_steps": 9}))
    with pytest.raises(TrainConfigError, match=r"data_augmentation.*shape \(4,\)"):
        resolve(TrainSpec("dqn", "CartPole-v1", agent_options={"data_augmentation": True}))
    small = {"replay_capacity": 12, "batch_size": 2, "min_replay": 12}  # holds batch and warm-up
    with pytest.raises(TrainConfigError, match=r"replay_capacity 12 must be at least n_step \+ 4"):
        resolve(TrainSpec("rainbow", PONG, preset="der", agent_options=small))


SMOKE = [
    ("dqn", None, "rigl"),
    ("rainbow", None, "set"),
    ("iqn", None, "prune"),
    ("m-iqn", None, "static"),
    ("rainbow", "der", "dense"),
    ("dqn", "drq_eps", "rigl"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("agent", "preset", "method"), SMOKE)
def test_smoke_run_on_pong(agent, preset, method):
    sparse = method != "dense"
    spec = TrainSpec(
        agent,
        PONG,
        preset=preset,
        method=method,
        sparsities=(0.9,) if sparse else (),
        steps=1000,
        eval_interval=1000,
        eval_episodes=1,
        env_options={"max_episode_steps": 250},
        agent_options={
            **SMALL,
            "min_replay": 400,
            "replay_capacity": 2000,
            "target_update_period": 1 if preset == "drq_eps" else 200,
        },
    )
    (result,) = train(spec, progress=quiet)
    (row,) = result.metrics
    assert row["train_episodes"] == 4  # four 250-step episodes (Pong cannot end sooner)
    assert -21 <= row["eval_return"] <= 21 and -21 <= row["train_return"] <= 21
    assert np.isfinite(row["loss"]) and row["loss"] > 0
    assert row["weights_outside_mask"] == 0 and row["target_weights_outside_mask"] == 0
    plan = resolve(spec)
    method, params = plan.methods["online"], plan.param_shapes["online"]
    counts = {k[len("active/") :]: v for k, v in row.items() if k.startswith("active/")}
    if sparse:
        assert counts == sp.mask_counts(method.kept_counts(params, 0.9))
        assert 0.85 < row["sparsity"] < 0.95
    else:
        assert row["sparsity"] == 0.0
