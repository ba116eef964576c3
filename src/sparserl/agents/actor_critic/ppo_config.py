"""Hyper-parameters of PPO (Schulman et al. 2017), with their sources, and per-env presets."""

from __future__ import annotations

import dataclasses
from typing import Any

from sparserl.agents.config import AgentConfig
from sparserl.agents.errors import AgentConfigError
from sparserl.nets.torsos import ACTIVATIONS
from sparserl.validation import at_least, non_negative, one_of, option, positive, unit


@dataclasses.dataclass(frozen=True)
class PPOConfig(AgentConfig):
    """PPO with the clipped surrogate objective, GAE and minibatch epochs.

    Defaults: the MuJoCo settings of Schulman et al. 2017 (Table 3: horizon 2048, Adam 3e-4,
    10 epochs, minibatch 64, gamma 0.99, GAE lambda 0.95, clip 0.2), with the implementation
    details of OpenAI baselines' ppo2 that Stable-Baselines3 and CleanRL share (Huang et al.
    2022, "The 37 implementation details of PPO"): separate tanh actor and critic networks
    with orthogonal initialisation, a state-independent log-std starting at 0, Adam eps 1e-5,
    per-minibatch advantage normalisation, value loss coefficient 0.5, no entropy bonus, and
    the gradients of both networks clipped together to global norm 0.5. The networks are
    2x256 (the project's actor-critic default, scalable by `width`) instead of the paper's 2x64.

    One update per rollout of `num_envs * num_steps` transitions (each run steps `num_envs`
    environments side by side): `num_epochs` passes over it in minibatches of `minibatch_size`.
    """

    hidden: tuple[int, ...] = option((256, 256), at_least(1), nonempty=True)
    width: float = option(1.0, positive)  # multiplier on every hidden layer
    # Schulman et al. 2017 (Sec. 6.1); SB3 and CleanRL
    activation: str = option("tanh", one_of(ACTIVATIONS))
    orthogonal_init: bool = True  # gains sqrt(2) hidden, 0.01 policy head, 1 value head (ppo2)
    initial_log_std: float = 0.0  # continuous actions: std 1 at the start (SB3 log_std_init)
    learning_rate: float = option(3e-4, positive)  # Table 3
    anneal_learning_rate: bool = False  # linearly to 0 over the run (CleanRL's --anneal-lr)
    adam_eps: float = option(1e-5, positive)  # ppo2, SB3's ActorCriticPolicy, CleanRL
    weight_decay: float = option(0.0, non_negative)
    l2_weight_decay: bool = False  # True: coupled L2 (PyTorch Adam); False: AdamW
    num_envs: int = option(1, at_least(1))  # Schulman et al. 2017 MuJoCo: one actor
    # steps per environment per rollout (Table 3: horizon T)
    num_steps: int = option(2048, at_least(1))
    num_epochs: int = option(10, at_least(1))  # Table 3
    minibatch_size: int = option(64, at_least(1))  # Table 3
    gamma: float = option(0.99, unit)  # Table 3
    gae_lambda: float = option(0.95, unit)  # Table 3
    clip_eps: float = option(0.2, positive)  # Table 3 (epsilon)
    # clip the value change like the ratio (SB3 clip_range_vf)
    value_clip: float | None = option(None, positive)
    # ppo2 / SB3 (c1 of Eq. 9); value loss = mean squared error
    vf_coef: float = option(0.5, non_negative)
    ent_coef: float = option(0.0, non_negative)  # ppo2 MuJoCo / SB3 (c2 of Eq. 9)
    max_grad_norm: float | None = option(0.5, positive)  # ppo2 / SB3; None: no clipping
    normalize_advantages: bool = True  # per minibatch (ppo2 / SB3 / CleanRL)
    # Running normalisation as SB3's VecNormalize / CleanRL's gym wrappers (baselines ppo2 on
    # MuJoCo): observations to mean 0, std 1, and rewards divided by the running std of the
    # discounted return, each clipped to +-`normalize_clip`. Off by default (SB3's PPO alone).
    normalize_observations: bool = False
    normalize_rewards: bool = False
    normalize_clip: float = option(10.0, positive)  # VecNormalize clip_obs / clip_reward
    # constant factor on rewards before any normalisation
    reward_scale: float = option(1.0, positive)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rollout_size % self.minibatch_size:
            raise AgentConfigError(
                f"minibatch_size {self.minibatch_size} must divide the rollout of num_envs * "
                f"num_steps = {self.num_envs} * {self.num_steps} = {self.rollout_size} "
                "transitions"
            )
        if self.normalize_advantages and self.minibatch_size < 2:
            raise AgentConfigError("normalize_advantages needs minibatch_size >= 2")

    @property
    def rollout_size(self) -> int:
        """Transitions (environment steps of one run) collected per update."""
        return self.num_envs * self.num_steps

    @property
    def num_minibatches(self) -> int:
        return self.rollout_size // self.minibatch_size

    @property
    def updates_per_rollout(self) -> int:
        """Optimizer steps of each network per rollout."""
        return self.num_epochs * self.num_minibatches


# Options on top of the defaults, for `PPOConfig().replace(**PRESETS[key])`, keyed by
# environment family like the other agents' presets, plus environment ids whose settings differ
# from their family's (look the id up first). None changes the 2x256 network of the defaults.
PRESETS: dict[str, dict[str, Any]] = {
    # Discrete classic control: SB3's PPO defaults as the peer benchmark's W4 runs them
    # (8 envs x 256 steps, minibatch 64, 10 epochs, lr 3e-4, gamma 0.99, lambda 0.95). On
    # CartPole-v1 it evaluates at ~500 from 20k steps on (2x64 and 2x256, 6 seeds each).
    "classic_control": dict(num_envs=8, num_steps=256),
    # rl-baselines3-zoo hyperparams/ppo.yml, "Pendulum-v1" (tuned): 4 envs x 1024 steps,
    # gamma 0.9, lambda 0.95, 10 epochs, lr 1e-3, clip 0.2, no entropy bonus; SB3's default
    # minibatch 64. The zoo explores with gSDE (use_sde, sde_sample_freq 4), which sparserl
    # does not have; in its place rewards are normalised (VecNormalize's reward half, as the
    # zoo's `normalize` does for other continuous tasks). Measured with SB3's 2x64 network:
    # 12 seeds averaged -190 after 100k-120k steps (random: about -1200); with observation
    # normalisation too, 1 seed in 3 stalled near -700. The default 2x256 network reached
    # -170 after 40k steps and -320 after 100k (3 seeds): a lower rate may suit it better.
    "Pendulum-v1": dict(
        num_envs=4, num_steps=1024, gamma=0.9, learning_rate=1e-3, normalize_rewards=True
    ),
    # rl-baselines3-zoo hyperparams/ppo.yml, "mujoco-defaults": SB3's PPO defaults (these
    # config defaults) with `normalize: true` (VecNormalize on observations and rewards), as
    # baselines ppo2's MuJoCo runs.
    "mujoco": dict(normalize_observations=True, normalize_rewards=True),
}
