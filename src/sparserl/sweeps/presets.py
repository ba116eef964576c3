"""The papers' experiment designs as sweep specs, each at a `smoke` scale (minutes on a 2-core
CPU, to check the pipeline end to end) and at the paper's `full` scale; and the post-hoc
evaluation (`sparserl eval`) a design adds once its sweep has trained."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sparserl.analysis.noise import DEFAULT_SIGMAS
from sparserl.analysis.posthoc import EvalSettings
from sparserl.envs import GRAESSER_15, ale_env_id
from sparserl.sweeps.spec import SweepSpec, SweepSpecError, parse

SCALES = ("smoke", "full")
MUJOCO = ["HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Ant-v5", "Humanoid-v5"]
MINATAR = ["Breakout-MinAtar", "Asterix-MinAtar", "Freeway-MinAtar", "SpaceInvaders-MinAtar"]
ATARI_15 = [ale_env_id(game) for game in GRAESSER_15]
# 40M frames = 10M agent steps at frame skip 4 (Obando-Ceron et al. 2024, Sec. 4.1); Dopamine's
# iterations of 250k agent steps give 40 evaluations.
ATARI_STEPS, ATARI_ITERATION = 10_000_000, 250_000
# Dopamine's 1M-frame replay is 7 GB per run on the device: 5 runs (one level's seeds) per
# program fit a 40-80 GB accelerator.
ATARI_RUNS_PER_GROUP = 5
# Atari on a CPU: a small replay and schedule so that a few thousand steps learn at all.
ATARI_SMOKE_OVERRIDES = {
    "min_replay": 1_000,
    "replay_capacity": 10_000,
    "target_update_period": 500,
    "epsilon_decay_steps": 1_000,
}

# Graesser et al. 2022 ("Experimental setup") compare Dense, a parameter-matched Dense, Prune,
# Static, SET and RigL on sparsities from 50% to 99% (80% is the marked level of Fig. 2).
GRAESSER_METHODS: list[Any] = ["dense", {"name": "dense", "match_sparsity": True}]
GRAESSER_METHODS += ["prune", "static", "set", "rigl"]
GRAESSER_SPARSITIES = [0.5, 0.8, 0.9, 0.95, 0.99]
# ERK vs uniform layer sparsities on classic control (Sec. 4.5, appendix Fig. 8).
UNIFORM = [{"name": m, "distribution": "uniform"} for m in ("prune", "static", "set", "rigl")]
# Graesser et al. 2022, "Signal-to-noise ratio in DRL environments" (Fig. 5): the gradient SNR of
# dense networks and of the dynamic sparse methods, RigL (whose gradient-based growth the low SNR
# explains) and SET (its random-growth twin), at sparsities from 50% to 99%.
SNR_METHODS = ["dense", "rigl", "set"]
# Graesser et al. 2022, "Are sparse networks robust to noise?" (Fig. 6): policies with 100%,
# 50% and 10% of the dense parameter count, dense (narrowed to the budget: the parameter-matched
# baseline) against RigL and SET; on Pong, MsPacman and Qbert.
NOISE_METHODS: list[Any] = ["dense", {"name": "dense", "match_sparsity": True}, "rigl", "set"]
NOISE_SPARSITIES = [0.5, 0.9]
NOISE_GAMES = [ale_env_id(game) for game in ("Pong", "MsPacman", "Qbert")]
# Obando-Ceron et al. 2024, Sec. 5 (Fig. 11, 14): DQN on the Impala ResNet at width x3, dense
# against 95% gradual magnitude pruning, on BeamRider, Breakout, Enduro and VideoPinball.
ANALYSIS_GAMES = [ale_env_id(game) for game in ("BeamRider", "Breakout", "Enduro", "VideoPinball")]
# The in-loop probe at every evaluation (TrainSpec's default; stated so that the analysis
# presets keep it whatever the default becomes).
EVERY_EVALUATION = 1

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "graesser2022-classic": {
        # CartPole at 90%: 7 groups of 2 runs x 20k steps. One group took 95 s with the CPU
        # shared with another job (~50-70 s alone), so about 6-8 minutes in all.
        "smoke": {
            "name": "graesser2022-classic-smoke",
            "agents": ["dqn"],
            "envs": ["CartPole-v1"],
            "methods": [*GRAESSER_METHODS, UNIFORM[-1]],
            "sparsities": [0.9],
            "seeds": 2,
            "steps": 20_000,
            "eval_interval": 1_000,
            "eval_episodes": 5,
        },
        # At least 10 seeds ("Experimental setup"). 100k env steps, evaluating 20 episodes
        # every 2000 steps: the paper's code (google-research/rigl,
        # rigl/rl/tfagents/configs/dqn_gym_dense_config.gin). Updates: the classic-control DQN
        # preset's replay ratio 0.25 (one update every 4 env steps), so 24,876 updates after
        # its 500-step warm-up (the smoke scale: 4,876); the paper's code trains one update per
        # env step ("Environment:train steps ratio is 1:1"), with its own target period and
        # learning rate, not adopted here.
        "full": {
            "name": "graesser2022-classic",
            "agents": ["dqn"],
            "envs": ["CartPole-v1", "Acrobot-v1", "MountainCar-v0"],
            "methods": GRAESSER_METHODS + UNIFORM,
            "sparsities": GRAESSER_SPARSITIES,
            "seeds": 10,
            "steps": 100_000,
            "eval_interval": 2_000,
            "eval_episodes": 20,
        },
    },
    "graesser2022-mujoco": {
        # SAC learns after 1000 random steps here (10k at full scale) so that 3 PPO rollouts
        # of 2048 steps are enough for both agents to update.
        "smoke": {
            "name": "graesser2022-mujoco-smoke",
            "agents": ["sac", "ppo"],
            "envs": ["HalfCheetah-v5"],
            "methods": [*GRAESSER_METHODS[:3], "rigl"],
            "sparsities": [0.9],
            "seeds": 2,
            "steps": 6_144,
            "eval_interval": 2_048,
            "eval_episodes": 2,
            "overrides": {"sac": {"learning_starts": 1_000}},
        },
        # SAC and PPO on 5 MuJoCo envs, 10 seeds ("Experimental setup"). SAC 1M steps; PPO
        # 489 rollouts of 2048 = 1,001,472 steps (the paper's code: sac_mujoco_dense_config.gin,
        # ppo_mujoco_dense_config.gin in google-research/rigl).
        "full": {
            "name": "graesser2022-mujoco",
            "agents": ["sac", "ppo"],
            "envs": MUJOCO,
            "methods": GRAESSER_METHODS,
            "sparsities": GRAESSER_SPARSITIES,
            "seeds": 10,
            "steps": {"sac": 1_000_000, "ppo": 1_001_472},
        },
    },
    "sokar2022-ds-td3": {
        # Pendulum-v1 (a JAX env, with a DS-TD3 lambda^1 of ours) instead of MuJoCo.
        "smoke": {
            "name": "sokar2022-ds-td3-smoke",
            "agents": ["td3"],
            "envs": ["Pendulum-v1"],
            "methods": ["dense", "static", "ds"],
            "preset": "ds-td3",
            "seeds": 2,
            "steps": 5_000,
            "eval_interval": 500,
            "eval_episodes": 3,
            "overrides": {"learning_starts": 1_000},
        },
        # TD3 vs Static-TD3 vs DS-TD3 with the TD3 settings of Sec. 4.1; the sparsity comes from
        # the ER lambdas of the ds-td3 preset. 1M steps, an evaluation of 10 episodes every
        # 5000 steps, 5 seeds (Sec. 4.1; the paper has 3 on Humanoid).
        "full": {
            "name": "sokar2022-ds-td3",
            "agents": ["td3"],
            "envs": MUJOCO,
            "methods": ["dense", "static", "ds"],
            "preset": "ds-td3",
            "seeds": 5,
            "steps": 1_000_000,
            "eval_interval": 5_000,
            "eval_episodes": 10,
        },
    },
    "obando2024-width": {
        "smoke": {
            "name": "obando2024-width-smoke",
            "agents": ["dqn", "rainbow"],
            "envs": ["Breakout-MinAtar"],
            "methods": ["dense", "prune"],
            "sparsities": [0.95],
            "widths": [1.0, 3.0],
            "seeds": 2,
            "steps": 5_000,
            "eval_interval": 1_000,
            "eval_episodes": 3,
        },
        # DQN and Rainbow, widths x1/x3/x5, dense vs 95% gradual pruning (Sec. 4.2, Fig. 1),
        # 5 seeds (Sec. 4.1). The paper's 40M Atari frames are 10M agent steps (Sec. 4.1);
        # MinAtar stands in for Atari and has no frame skip, so 10M env steps.
        "full": {
            "name": "obando2024-width",
            "agents": ["dqn", "rainbow"],
            "envs": MINATAR,
            "methods": ["dense", "prune"],
            "sparsities": [0.95],
            "widths": [1.0, 3.0, 5.0],
            "seeds": 5,
            "steps": 10_000_000,
        },
    },
    # Graesser et al. 2022 on Atari: DQN with the Nature CNN on their 15 games, dense, matched
    # dense and the four sparse methods over their sparsities, 40M frames, 5 seeds. Made for an
    # accelerator: a group (6 methods x 5 levels x 5 seeds vmapped) is one program.
    "graesser2022-atari": {
        # Pong, 2 seeds, 3,000 agent steps: minutes on a 2-core CPU, any score.
        "smoke": {
            "name": "graesser2022-atari-smoke",
            "agents": ["dqn"],
            "envs": ["ALE/Pong-v5"],
            "methods": ["dense", "rigl"],
            "sparsities": [0.9],
            "seeds": 2,
            "steps": 3_000,
            "eval_interval": 1_500,
            "eval_episodes": 1,
            "overrides": ATARI_SMOKE_OVERRIDES,
        },
        "full": {
            "name": "graesser2022-atari",
            "agents": ["dqn"],
            "envs": ATARI_15,
            "methods": GRAESSER_METHODS,
            "sparsities": GRAESSER_SPARSITIES,
            "seeds": 5,
            "steps": ATARI_STEPS,
            "eval_interval": ATARI_ITERATION,
            "eval_episodes": 5,
            "max_runs_per_group": ATARI_RUNS_PER_GROUP,
        },
    },
    # Obando-Ceron et al. 2024, Fig. 1 and 3: DQN and Rainbow on the Impala ResNet at widths
    # x1/x3/x5, dense vs 95% gradual magnitude pruning, 15 games, 40M frames, 5 seeds.
    "obando2024-atari": {
        "smoke": {
            "name": "obando2024-atari-smoke",
            "agents": ["dqn"],
            "envs": ["ALE/Pong-v5"],
            "methods": ["dense", "prune"],
            "sparsities": [0.95],
            "widths": [1.0],
            "seeds": 2,
            "steps": 3_000,
            "eval_interval": 1_500,
            "eval_episodes": 1,
            "overrides": {**ATARI_SMOKE_OVERRIDES, "torso": "impala"},
        },
        "full": {
            "name": "obando2024-atari",
            "agents": ["dqn", "rainbow"],
            "envs": ATARI_15,
            "methods": ["dense", "prune"],
            "sparsities": [0.95],
            "widths": [1.0, 3.0, 5.0],
            "seeds": 5,
            "steps": ATARI_STEPS,
            "eval_interval": ATARI_ITERATION,
            "eval_episodes": 5,
            "overrides": {"torso": "impala"},
            "max_runs_per_group": ATARI_RUNS_PER_GROUP,
        },
    },
    # Graesser et al.'s Atari design (DQN, dense vs sparse at 90%, their Fig. 1) on MinAtar, with
    # Obando-Ceron et al.'s width x3: affordable on a CPU.
    "minatar-classic": {
        "smoke": {
            "name": "minatar-classic-smoke",
            "agents": ["dqn"],
            "envs": ["Breakout-MinAtar"],
            "methods": ["dense", "prune", "rigl"],
            "sparsities": [0.9],
            "widths": [1.0, 3.0],
            "seeds": 2,
            "steps": 5_000,
            "eval_interval": 1_000,
            "eval_episodes": 3,
        },
        # 5 seeds as Obando-Ceron et al. (Sec. 4.1); 10M steps as their agent steps.
        "full": {
            "name": "minatar-classic",
            "agents": ["dqn"],
            "envs": MINATAR,
            "methods": ["dense", "prune", "rigl"],
            "sparsities": [0.9],
            "widths": [1.0, 3.0],
            "seeds": 5,
            "steps": 10_000_000,
        },
    },
    # Graesser et al. 2022, Fig. 5, DQN on classic control (the paper's "Classic control" SNR
    # panels); SAC on MuJoCo is graesser2022-snr-mujoco (a sweep crosses every agent with every
    # env, and DQN has no continuous actions).
    "graesser2022-snr": {
        # CartPole at 50%, 90% and 99%, 2 seeds x 20k steps as graesser2022-classic's smoke
        # (~1 min per 2-run group there): 3 groups of 2 and 6 runs, estimated at ~5 minutes on
        # a 2-core CPU (not timed alone).
        "smoke": {
            "name": "graesser2022-snr-smoke",
            "agents": ["dqn"],
            "envs": ["CartPole-v1"],
            "methods": SNR_METHODS,
            "sparsities": [0.5, 0.9, 0.99],
            "seeds": 2,
            "steps": 20_000,
            "eval_interval": 1_000,
            "eval_episodes": 5,
            "diagnostics_every": EVERY_EVALUATION,
        },
        # graesser2022-classic's full scale (10 seeds, 100k steps, 20 episodes every 2000).
        "full": {
            "name": "graesser2022-snr",
            "agents": ["dqn"],
            "envs": ["CartPole-v1", "Acrobot-v1", "MountainCar-v0"],
            "methods": SNR_METHODS,
            "sparsities": GRAESSER_SPARSITIES,
            "seeds": 10,
            "steps": 100_000,
            "eval_interval": 2_000,
            "eval_episodes": 20,
            "diagnostics_every": EVERY_EVALUATION,
        },
    },
    # Graesser et al. 2022, Fig. 5, SAC on MuJoCo: actor and critic probed apart.
    "graesser2022-snr-mujoco": {
        # HalfCheetah at graesser2022-mujoco's smoke budget (SAC learning after 1000 steps).
        "smoke": {
            "name": "graesser2022-snr-mujoco-smoke",
            "agents": ["sac"],
            "envs": ["HalfCheetah-v5"],
            "methods": SNR_METHODS,
            "sparsities": [0.5, 0.9, 0.99],
            "seeds": 2,
            "steps": 6_144,
            "eval_interval": 2_048,
            "eval_episodes": 2,
            "overrides": {"learning_starts": 1_000},
            "diagnostics_every": EVERY_EVALUATION,
        },
        # graesser2022-mujoco's SAC: 5 envs, 10 seeds, 1M steps.
        "full": {
            "name": "graesser2022-snr-mujoco",
            "agents": ["sac"],
            "envs": MUJOCO,
            "methods": SNR_METHODS,
            "sparsities": GRAESSER_SPARSITIES,
            "seeds": 10,
            "steps": 1_000_000,
            "diagnostics_every": EVERY_EVALUATION,
        },
    },
    # Graesser et al. 2022, Fig. 6: train at 100%, 50% and 10% of the dense parameter count, then
    # `sparserl eval` under observation noise (EVALUATIONS below). The paper picked, among all
    # its trained policies, ones of comparable return; here every run of the grid is evaluated.
    "graesser2022-noise": {
        # CartPole (vector observations: noise scaled by each dimension's spread), 2 seeds x
        # 10k steps: 5 groups of 2 or 4 runs, half graesser2022-classic's smoke length, so
        # estimated at ~4 minutes on a 2-core CPU (not timed alone), then the evaluation.
        "smoke": {
            "name": "graesser2022-noise-smoke",
            "agents": ["dqn"],
            "envs": ["CartPole-v1"],
            "methods": NOISE_METHODS,
            "sparsities": NOISE_SPARSITIES,
            "seeds": 2,
            "steps": 10_000,
            "eval_interval": 1_000,
            "eval_episodes": 5,
        },
        # graesser2022-atari's DQN, 40M frames, 5 seeds, on the three games of Fig. 6.
        "full": {
            "name": "graesser2022-noise",
            "agents": ["dqn"],
            "envs": NOISE_GAMES,
            "methods": NOISE_METHODS,
            "sparsities": NOISE_SPARSITIES,
            "seeds": 5,
            "steps": ATARI_STEPS,
            "eval_interval": ATARI_ITERATION,
            "eval_episodes": 5,
            "max_runs_per_group": ATARI_RUNS_PER_GROUP,
        },
    },
    # Obando-Ceron et al. 2024, Sec. 5: what pruning does to the network (Fig. 11: Q-target
    # variance, parameter norm, Q norm, srank, dormant neurons; Fig. 14: gradient covariance).
    "obando2024-analysis": {
        # The CPU-scale study of issue 16: MinAtar Breakout, dense vs Prune vs RigL at 90%, 3
        # seeds. MinAtar's ε decay of 250k steps shortened to 10k so that 40k steps learn: a
        # 90% Prune group measured 2.0, 2.4 and 4.6 at 20k steps (random policy ~0.5) at ~140
        # env steps/s per 3-run program on a busy 2-core CPU; each group is ~1 min of compile
        # and ~2-5 min of training, so the sweep takes about 10-15 minutes.
        "smoke": {
            "name": "obando2024-analysis-smoke",
            "agents": ["dqn"],
            "envs": ["Breakout-MinAtar"],
            "methods": ["dense", "prune", "rigl"],
            "sparsities": [0.9],
            "seeds": 3,
            "steps": 40_000,
            "eval_interval": 2_000,
            "eval_episodes": 5,
            "overrides": {"epsilon_decay_steps": 10_000},
            "diagnostics_every": EVERY_EVALUATION,
        },
        # 40M frames, 5 seeds (Fig. 11 caption), an analysis at each of Dopamine's 40
        # iterations.
        "full": {
            "name": "obando2024-analysis",
            "agents": ["dqn"],
            "envs": ANALYSIS_GAMES,
            "methods": ["dense", "prune"],
            "sparsities": [0.95],
            "widths": [3.0],
            "seeds": 5,
            "steps": ATARI_STEPS,
            "eval_interval": ATARI_ITERATION,
            "eval_episodes": 5,
            "overrides": {"torso": "impala"},
            "max_runs_per_group": ATARI_RUNS_PER_GROUP,
            "diagnostics_every": EVERY_EVALUATION,
        },
    },
}

# The post-hoc evaluation that completes a preset's design, `sparserl eval DIR` on the sweep's
# directory once it has trained (a sweep trains only): {preset: {scale: EvalSettings fields}}.
EVALUATIONS: dict[str, dict[str, dict[str, Any]]] = {
    "graesser2022-noise": {
        # Every fifth σ (`sparserl eval`'s default).
        "smoke": {"sigmas": DEFAULT_SIGMAS},
        # σ in 0, 1, ..., 30 (Graesser et al. 2022, Fig. 6).
        "full": {"sigmas": tuple(float(s) for s in range(31))},
    },
}


def preset_evaluation(name: str, scale: str = "smoke") -> EvalSettings | None:
    """The post-hoc evaluation of preset `name` at `scale`, or None if its design has none."""
    load_preset(name, scale)  # refuses an unknown name or scale
    fields = EVALUATIONS.get(name, {}).get(scale)
    return None if fields is None else EvalSettings(**fields)


def eval_command(name: str, scale: str, directory: str | Path) -> str | None:
    """The `sparserl eval` command line that completes preset `name` at `scale` on its sweep
    directory `directory`, or None if its design has no post-hoc evaluation."""
    settings = preset_evaluation(name, scale)
    if settings is None:
        return None
    sigmas = ",".join(f"{sigma:g}" for sigma in settings.sigmas)
    return f"sparserl eval {directory} --sigmas {sigmas}"


def load_preset(name: str, scale: str = "smoke") -> SweepSpec:
    """The sweep of preset `name` at `scale` ('smoke' or 'full')."""
    if name not in PRESETS:
        raise SweepSpecError(f"unknown sweep preset {name!r}; choose from {list(PRESETS)}")
    if scale not in PRESETS[name]:
        raise SweepSpecError(f"unknown scale {scale!r} for {name!r}; choose from {list(SCALES)}")
    return parse(PRESETS[name][scale])
