"""Presets of the value-based agents (DQN, Rainbow, IQN) and of SAC and TD3 (with DS-TD3's
sparse methods): hyper-parameter sets per environment family (or id, or paper), each value
with its source; each agent registers its own with `register_agent` (PPO's are in
ppo_config).

The config classes' own defaults are Dopamine's Atari settings; a preset changes only what
differs for its family. `preset=None` picks the environment family's preset.
"""

from __future__ import annotations

from typing import Any

from sparserl.agents.errors import AgentConfigError

# Dopamine's classic-control DQN (dqn_cartpole.gin / dqn_acrobot.gin), the base of the
# classic-control DQN of Graesser et al. 2022, with three measured changes: Dopamine's target
# period of 100 env steps (25 updates) with lr 1e-3 diverged on CartPole-v1 in our runs
# (Q-values ~1e5, return 9 at 30k steps, also at lr 1e-4); a period of 500 with lr 3e-4 was
# the best of {1e-3, 3e-4} x 2 seeds at 60k steps (370 / 474 vs 196 / 377); double Q
# (van Hasselt et al. 2016) gave 466 vs 447 final return over 5 seeds at 100k steps.
_CLASSIC_CONTROL_DQN: dict[str, Any] = {
    "double_q": True,
    "hidden": (512, 512),
    "learning_rate": 3e-4,
    "adam_eps": 3.125e-4,
    "batch_size": 128,
    "min_replay": 500,
    "target_update_period": 500,
    "replay_capacity": 50_000,
    "epsilon_decay_steps": 1_000,
}

# MinAtar: Dopamine's MinAtar settings of Ceron & Castro 2021 ("Revisiting Rainbow"):
# Adam 1e-4 / eps 3.125e-4, batch 32, update period 4, target 1000, 1000-step warm-up,
# 100k replay, ε to 0.01 over 250k steps.
_MINATAR_DQN: dict[str, Any] = {
    "learning_rate": 1e-4,
    "adam_eps": 3.125e-4,
    "min_replay": 1_000,
    "target_update_period": 1_000,
    "replay_capacity": 100_000,
}

# Atari 100k (Kaiser et al. 2020): what DER and DrQ(ε) share, from Obando-Ceron et al. 2024,
# Appendix F, Table 1, and Dopamine's dopamine/labs/atari_100k/configs/DER.gin and
# DrQ_eps.gin (same values in both files where Table 1 is silent).
_ATARI_100K: dict[str, Any] = {
    "torso": "nature_cnn",  # Table 1: 3 conv layers, 2 dense (512 hidden), width 1
    # (the paper's Fig. 7 runs use the Impala ResNet at width 3: torso="impala", width=3)
    "learning_rate": 1e-4,  # Table 1; gin: create_optimizer.learning_rate = 0.0001
    "adam_eps": 1.5e-4,  # Table 1; gin: create_optimizer.eps = 0.00015
    "weight_decay": 0.0,  # Table 1
    "batch_size": 32,  # Table 1; gin: OutOfGraphPrioritizedReplayBuffer.batch_size = 32
    "gamma": 0.99,  # Table 1; gin: JaxDQNAgent.gamma
    "n_step": 10,  # Table 1 update horizon; gin: JaxDQNAgent.update_horizon = 10
    "replay_ratio": 1.0,  # Table 1 update period 1; gin: update_period = 1, 1 update per step
    "min_replay": 1_600,  # Table 1; gin: JaxDQNAgent.min_replay_history = 1600
    "replay_capacity": 1_000_000,  # Table 1; gin: replay_capacity = 1000000
    "epsilon_train": 0.01,  # Table 1; gin: JaxDQNAgent.epsilon_train = 0.01
    "epsilon_eval": 0.001,  # gin: JaxDQNAgent.epsilon_eval = 0.001 (Agarwal et al. 2021)
    "double_q": True,  # gin: JaxFullRainbowAgent.double_dqn = True
    "dueling": True,  # gin: JaxFullRainbowAgent.dueling = True
}

# Data-Efficient Rainbow (van Hasselt et al. 2019). Dopamine's DER.gin sets noisy = True
# (NoisyNets replace ε-greedy there); Table 1 lists ε-greedy with ε 0.01 and a 2000-step
# decay, and we have no noisy layers, so DER here explores ε-greedily as Table 1 says.
# Dopamine's target_update_period counts `training_steps`, which grow by one per agent
# (env) step (JaxFullRainbowAgent._train_step); with update period 1 it is also updates, and
# our target period counts env steps: the same 2000.
_DER: dict[str, Any] = {
    **_ATARI_100K,
    "target_update_period": 2_000,  # DER.gin: target_update_period = 2000
    "epsilon_decay_steps": 2_000,  # Table 1; DER.gin: epsilon_decay_period = 2000
    "num_atoms": 51,  # Table 1; DER.gin: num_atoms = 51
    "v_min": -10.0,  # DER.gin: vmax = 10. (vmin defaults to -vmax)
    "v_max": 10.0,
    "prioritized": True,  # DER.gin: replay_scheme = 'prioritized'
    "data_augmentation": False,  # DER.gin: Atari100kRainbowAgent.data_augmentation = False
}

# DrQ(ε) (Kostrikov et al. 2020, with the ε settings of Agarwal et al. 2021): Dopamine's
# "Efficient DQN" (DrQ_eps.gin: noisy = False, distributional = False) with DrQ's random
# shifts. Its target period of 1 syncs after every update (the sync follows the update in
# _train_step), so the bootstrap uses the current online weights, as here.
_DRQ_EPS: dict[str, Any] = {
    **_ATARI_100K,
    "target_update_period": 1,  # DrQ_eps.gin: target_update_period = 1
    "epsilon_decay_steps": 5_000,  # Table 1; DrQ_eps.gin: epsilon_decay_period = 5000
    "loss": "huber",  # Atari100kRainbowAgent's mse_loss defaults to False: Huber
    "data_augmentation": True,  # DrQ_eps.gin: Atari100kRainbowAgent.data_augmentation = True
}

# The presets of each agent (preset name -> config overrides), registered with the agent.
DQN_PRESETS: dict[str, dict[str, Any]] = {
    "atari": {},
    "classic_control": _CLASSIC_CONTROL_DQN,
    "minatar": _MINATAR_DQN,
    "drq_eps": _DRQ_EPS,  # uniform replay: DrQ_eps.gin replay_scheme = 'uniform'
}
RAINBOW_PRESETS: dict[str, dict[str, Any]] = {
    "atari": {},
    "der": _DER,
    # Dopamine's rainbow_cartpole.gin: the DQN classic-control schedule with n=3 and 51
    # atoms. Its v_max = 10 would clip CartPole's discounted returns (up to 1/(1-0.99) =
    # 100), so the support is widened to [-100, 100].
    "classic_control": {
        **_CLASSIC_CONTROL_DQN,
        "double_q": False,  # Dopamine's compact Rainbow selects a* with the target net
        "v_min": -100.0,
        "v_max": 100.0,
    },
    "minatar": {**_MINATAR_DQN, "v_min": -100.0, "v_max": 100.0},
}

# IQN and M-IQN: Dopamine has no classic-control or MinAtar IQN settings; they take the DQN
# schedules of their family, with a* from the target network as Dopamine's IQN (and M-IQN's
# softmax bootstrap, which has no a*); N, N', K, κ, n-step 3 and the Munchausen terms stay
# at their Atari values.
IQN_PRESETS: dict[str, dict[str, Any]] = {
    "atari": {},
    "classic_control": {**_CLASSIC_CONTROL_DQN, "double_q": False},
    "minatar": _MINATAR_DQN,
}


# Off-policy actor-critic agents: the config defaults are the MuJoCo settings of each paper.
# Pendulum / MountainCarContinuous: 1000 random steps and lr 1e-3 (rl-baselines3-zoo's
# Pendulum settings use lr 1e-3), so that a few thousand steps suffice.
_CLASSIC_CONTROL_OFF_POLICY: dict[str, Any] = {"learning_starts": 1_000, "learning_rate": 1e-3}

# DS-TD3 (Sokar et al. 2022, Sec. 4.1): Adam lr 1e-3 with weight decay 2e-4 (PyTorch's coupled
# L2), batch 100; the method side (ER topology, eta, e) is in `method_preset`.
_DS_TD3: dict[str, Any] = {
    "learning_rate": 1e-3,
    "weight_decay": 2e-4,
    "l2_weight_decay": True,
    "batch_size": 100,
}

SAC_PRESETS: dict[str, dict[str, Any]] = {
    "mujoco": {},
    "classic_control": _CLASSIC_CONTROL_OFF_POLICY,
}
TD3_PRESETS: dict[str, dict[str, Any]] = {
    "mujoco": {},
    "classic_control": _CLASSIC_CONTROL_OFF_POLICY,
    "ds-td3": _DS_TD3,
}

# lambda^1 (first layer) of DS-TD3 per environment (Sokar et al. 2022, Sec. 4.1; lambda^2 = 64).
# Pendulum-v1 / MountainCarContinuous-v0 are ours: 3 or 2 inputs leave at most ~3 as lambda^1,
# and 1.5 gives a first-layer density near the paper's (~0.4-0.5 on MuJoCo).
DS_TD3_LAMBDA_1 = {
    "HalfCheetah-v5": 7.0,
    "Hopper-v5": 7.0,
    "Walker2d-v5": 7.0,
    "Ant-v5": 40.0,
    "Humanoid-v5": 61.0,
    "Pendulum-v1": 1.5,
    "MountainCarContinuous-v0": 1.5,
}
DS_TD3_LAMBDA_2 = 64.0


def ds_td3_methods(env_id: str) -> dict[str, Any]:
    """The sparse-method side of td3's ds-td3 preset on `env_id`: DS with explicit ER lambdas
    (`{"method", "options", "networks"}`)."""
    if env_id not in DS_TD3_LAMBDA_1:
        raise AgentConfigError(
            f"preset 'ds-td3' has no lambda^1 for {env_id!r}; known: {list(DS_TD3_LAMBDA_1)} "
            "(give er_lambda per layer with --method-set instead)"
        )
    lambdas = (DS_TD3_LAMBDA_1[env_id], DS_TD3_LAMBDA_2)

    def er(prefixes):
        return {f"{p}encoder/dense_{i}": lam for p in prefixes for i, lam in enumerate(lambdas)}

    return {
        "method": "ds",
        # ER topology with explicit lambdas, dense output layers (Sec. 4.1); Static-TD3 uses
        # the same topology without evolution. A sparsity level given with the preset scales
        # both lambdas by one factor to meet it (Sec. 4.2, "Sparsity Level": the lambdas set it).
        "options": {"distribution": "er", "dense_output": True},
        "networks": {
            # The actor learns every d = 2 critic steps and evolves when the critic does
            # (Alg. 1: every e = 1000 iterations): every 500 of its own optimizer steps.
            "actor": {"er_lambda": er([""]), "update_interval": 500},
            "critic": {"er_lambda": er(["q1/", "q2/"])},
        },
    }


# Environment options of the presets that change the environment protocol. Atari 100k plays
# without sticky actions (Table 1: Sticky Actions False; DER.gin / DrQ_eps.gin:
# create_atari_environment.sticky_actions = False) and ends the agent's episode at each lost
# life (DER.gin / DrQ_eps.gin: AtariPreprocessing.terminal_on_life_loss = True; Table 1 does
# not list it).
ATARI_100K_ENV: dict[str, Any] = {"repeat_action_probability": 0.0, "terminal_on_life_loss": True}
