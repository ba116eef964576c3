"""Gymnasium environments stepped on the host (MuJoCo), beside the JAX-native gymnax ones.

MuJoCo physics cannot run inside a jitted program, so these environments live in Python: one
gymnasium env per training run, stepped in a plain loop (faster here than gymnasium's
SyncVectorEnv), reporting termination and time-limit truncation apart like `JaxEnv.step`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Self

import gymnasium
import mujoco
import numpy as np

from sparserl.envs.errors import EnvConfigError
from sparserl.envs.facts import EnvFacts, action_bounds

if TYPE_CHECKING:
    from sparserl.envs.registry import EnvSpec

Policy = Callable[[np.ndarray], Any]


class HostStep(NamedTuple):
    """One step of `num` host environments: `obs` is already reset where an episode ended."""

    obs: np.ndarray  # [num, *obs_shape] float32
    reward: np.ndarray  # [num] float32
    terminated: np.ndarray  # [num] bool: a true terminal state, do not bootstrap
    truncated: np.ndarray  # [num] bool: the time limit, bootstrap from final_obs
    final_obs: np.ndarray  # [num, *obs_shape] float32: what the action led to, before any reset


@contextlib.contextmanager
def _quiet_mujoco_deprecations() -> Iterator[None]:
    """Drop MuJoCo's deprecation warnings while a model loads (gymnasium's half_cheetah.xml
    uses `settotalmass`); by default each one is printed and appended to ./MUJOCO_LOG.TXT."""
    previous = mujoco.get_mju_user_warning()

    def on_warning(message: str) -> None:
        if "is deprecated" in message:
            return
        if previous is not None:
            previous(message)
        else:
            warnings.warn(f"MuJoCo: {message}", RuntimeWarning, stacklevel=2)

    mujoco.set_mju_user_warning(on_warning)
    try:
        yield
    finally:
        mujoco.set_mju_user_warning(previous)


@dataclasses.dataclass(frozen=True)
class GymnasiumEnv(EnvFacts):
    """A gymnasium environment id with the facts agents need about it (as `JaxEnv` has)."""

    @classmethod
    def from_gymnasium(cls, spec: EnvSpec) -> GymnasiumEnv:
        """Read the facts from one `gymnasium.make(spec.backend_id)`, then close it."""
        env = _make(spec.backend_id)
        try:
            space = env.action_space
            discrete = isinstance(space, gymnasium.spaces.Discrete)
            action_shape = () if discrete else tuple(space.shape)
            max_steps = env.spec.max_episode_steps if env.spec is not None else None
            if max_steps is None:
                raise EnvConfigError(f"{spec.backend_id!r} has no time limit; sparserl needs one")
            return cls(
                spec=spec,
                obs_shape=tuple(env.observation_space.shape),
                num_actions=int(space.n) if discrete else None,
                action_shape=action_shape,
                max_episode_steps=int(max_steps),
                **action_bounds(space, discrete, action_shape),
            )
        finally:
            env.close()

    def make(self) -> gymnasium.Env:
        """One raw gymnasium env (headless, with its time limit), as gymnasium.make gives it."""
        return _make(self.spec.backend_id)

    def vector(self, num: int) -> GymnasiumVector:
        """`num` independent envs, one per training run, stepped together with auto-reset."""
        return GymnasiumVector(self, num)

    def evaluator(self, runs: int, episodes: int) -> Evaluator:
        """`runs * episodes` evaluation envs, kept open to evaluate many times."""
        return Evaluator(self, runs, episodes)


def _make(backend_id: str) -> gymnasium.Env:
    with _quiet_mujoco_deprecations():
        return gymnasium.make(backend_id)


class EnvVector:
    """`num` envs made by `env.make()` to be stepped side by side, closed with the vector (or
    its `with` block): what the MuJoCo and the Atari vectors share."""

    def __init__(self, env: Any, num: int):
        if num < 1:
            raise ValueError(f"num must be at least 1, got {num}")
        self.env = env
        self.num = num
        self.envs = [env.make() for _ in range(num)]

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class GymnasiumVector(EnvVector):
    """`num` independent gymnasium envs stepped side by side, auto-resetting ended episodes.

    Each env is seeded once by `reset(seeds)`; later auto-resets pass no seed, so the env's
    own RNG continues and a run is reproducible from its seed alone.
    """

    def reset(self, seeds: Sequence[int]) -> np.ndarray:
        """First observations `[num, *obs_shape]` float32; env i (and its action space) is
        seeded with `seeds[i]`."""
        if len(seeds) != self.num:
            raise ValueError(f"expected {self.num} seeds, got {len(seeds)}")
        obs = np.empty((self.num, *self.env.obs_shape), np.float32)
        for i, (env, seed) in enumerate(zip(self.envs, seeds, strict=True)):
            obs[i], _ = env.reset(seed=int(seed))
            env.action_space.seed(int(seed))
        return obs

    def step(self, actions: Any) -> HostStep:
        """Step env i with `actions[i]` (`[num, *action_shape]`, passed on unclipped); an env
        whose episode terminated or hit the time limit is reset and its new first obs returned."""
        actions = np.asarray(actions)
        expected = (self.num, *self.env.action_shape)
        if actions.shape != expected:
            raise ValueError(f"actions of shape {actions.shape}, expected {expected}")
        obs = np.empty((self.num, *self.env.obs_shape), np.float32)
        final_obs = np.empty_like(obs)
        reward = np.empty(self.num, np.float32)
        terminated = np.empty(self.num, bool)
        truncated = np.empty(self.num, bool)
        for i, env in enumerate(self.envs):
            o, r, term, trunc, _ = env.step(actions[i])
            final_obs[i] = o
            reward[i], terminated[i], truncated[i] = r, term, trunc
            if term or trunc:
                o, _ = env.reset()
            obs[i] = o
        return HostStep(obs, reward, terminated, truncated, final_obs)


def episode_seeds(seed: int, runs: int, episodes: int) -> np.ndarray:
    """Distinct deterministic env seeds `[runs, episodes]` for evaluation number `seed` (>= 0):
    consecutive integers from a hashed start, so they rarely meet small training seeds."""
    start = int(np.random.SeedSequence(seed).generate_state(1, np.uint32)[0])
    return ((start + np.arange(runs * episodes, dtype=np.int64)) % 2**32).reshape(runs, episodes)


class VectorEvaluator:
    """What the host evaluators share: `runs * episodes` envs of `vector_class`, made once and
    reseeded by every `evaluate` call, so repeated evaluations during training cost no env
    construction and each result depends only on its seed; closed with the evaluator."""

    vector_class: Any

    def __init__(self, env: Any, runs: int, episodes: int):
        if runs < 1 or episodes < 1:
            raise ValueError(f"runs and episodes must be at least 1, got {runs}, {episodes}")
        self.env = env
        self.runs = runs
        self.episodes = episodes
        self.vector = self.vector_class(env, runs * episodes)

    def close(self) -> None:
        self.vector.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Evaluator(VectorEvaluator):
    """Evaluates `runs` policies for `episodes` episodes each on `runs * episodes` host envs."""

    vector_class = GymnasiumVector

    def evaluate(self, policy: Policy, seed: int) -> np.ndarray:
        """Mean undiscounted return per run, `[runs]` float64, of one episode in every env.

        `policy(obs)` maps float32 `[runs, episodes, *obs_shape]` to actions `[runs, episodes,
        *action_shape]`; it is called once per time step for all envs. Ended episodes are not
        stepped again: their rows keep the last observation and their actions are ignored.
        """
        runs, episodes, n = self.runs, self.episodes, self.runs * self.episodes
        obs = self.vector.reset(episode_seeds(seed, runs, episodes).ravel())
        returns = np.zeros(n, np.float64)
        active = np.ones(n, bool)
        envs = self.vector.envs
        while active.any():
            # a copy: jax may alias a numpy argument on CPU, and `obs` is refilled in place
            actions = np.asarray(policy(obs.reshape(runs, episodes, *self.env.obs_shape).copy()))
            actions = actions.reshape(n, *self.env.action_shape)
            for i in np.flatnonzero(active):
                o, r, terminated, truncated, _ = envs[i].step(actions[i])
                obs[i] = o
                returns[i] += r
                if terminated or truncated:
                    active[i] = False
        return returns.reshape(runs, episodes).mean(axis=1)


def evaluate_host(
    env: GymnasiumEnv, policy: Policy, runs: int, episodes: int, seed: int
) -> np.ndarray:
    """One-off `Evaluator(env, runs, episodes).evaluate(policy, seed)`, closing its envs after;
    keep an `Evaluator` instead to evaluate repeatedly without rebuilding envs."""
    with Evaluator(env, runs, episodes) as evaluator:
        return evaluator.evaluate(policy, seed)
