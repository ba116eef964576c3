"""Atari 2600 games through the ALE, preprocessed on the host as Dopamine does (Machado et al.
2018's protocol, used by Graesser et al. 2022 and Obando-Ceron et al. 2024).

One agent step repeats the action for 4 emulator frames with sticky actions (p = 0.25), sums
the rewards, takes the pixel-wise max of the last two grayscale screens and area-resamples it
to an 84x84 uint8 frame. Episodes end at game over or after 27,000 agent steps (108,000
frames); no no-op starts, and life-loss terminals only where asked for
(`terminal_on_life_loss`, Dopamine's Atari 100k agents). Rewards are reported raw (episode returns
are unclipped); agents that train on clipped rewards apply `clip_reward` themselves, since
clipping is an agent setting (Dopamine clips in its runner, not in the environment).

Acting sees the last 4 frames stacked, newest last, with zeros for frames from before the
episode's first: the convention everywhere, replay included.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import ale_py
import gymnasium
import numpy as np

from sparserl.envs.errors import EnvConfigError
from sparserl.envs.facts import EnvFacts
from sparserl.envs.gymnasium_env import EnvVector, VectorEvaluator, episode_seeds
from sparserl.replay.frames import STACK_SIZE
from sparserl.validation import check_number, is_a, positive, unit

if TYPE_CHECKING:
    from sparserl.envs.registry import EnvSpec

gymnasium.register_envs(ale_py)

Policy = Callable[[np.ndarray], Any]

# Dopamine's Atari defaults (atari_lib.create_atari_environment and AtariPreprocessing; the
# 27k-step cap is its Runner's max_steps_per_episode), the protocol of Machado et al. 2018:
# sticky actions, frame skip 4 with a max over the last two frames, 84x84 grayscale frames,
# 4 stacked, episodes capped at 27k agent steps (108k frames).
STICKY_ACTION_PROBABILITY = 0.25
FRAME_SKIP = 4
FRAME_SHAPE = (84, 84)
MAX_EPISODE_STEPS = 27_000


def clip_reward(reward: np.ndarray) -> np.ndarray:
    """Rewards clipped to [-1, 1], as DQN-family agents train on Atari (Mnih et al. 2015;
    Dopamine's `np.clip(reward, -1, 1)`)."""
    return np.clip(reward, -1.0, 1.0)


def area_weights(src: int, dst: int) -> tuple[np.ndarray, int]:
    """Integer weights `[dst, src]` and their denominator for area resampling `src` pixels to
    `dst` (dst <= src): output o averages the inputs its cell [o*src/dst, (o+1)*src/dst)
    covers, each weighted by the fraction of it covered, as cv2.INTER_AREA does."""
    if not 0 < dst <= src:
        raise ValueError(f"area resampling shrinks: need 0 < dst <= src, got src={src}, dst={dst}")
    g = math.gcd(src, dst)
    cell, pixel = src // g, dst // g  # lengths of a cell and of a pixel, in units of 1/pixel
    out = np.arange(dst)[:, None]
    pix = np.arange(src)[None, :]
    covered = np.minimum((out + 1) * cell, (pix + 1) * pixel) - np.maximum(out * cell, pix * pixel)
    return np.maximum(covered, 0), cell


class AreaResize:
    """Area resampling of uint8 frames `[..., H, W]` to `[..., h, w]`: `rows @ frame @ cols.T`
    with the integer `area_weights`, divided by their denominators and rounded half to even.

    The sums are exact integers, so the result is the exact area mean rounded; cv2 (Dopamine)
    computes the same mean in float32 and may round the other way at exact .5 ties. Both weight
    matrices are block diagonal (gcd(H, h) equal blocks), so each block is applied to its group
    of pixels: the same numbers with about 10x fewer operations than the full products.
    """

    def __init__(self, src: tuple[int, int], dst: tuple[int, int] = FRAME_SHAPE):
        self.src, self.dst = tuple(src), tuple(dst)
        (self.rows, row_den), (self.cols, col_den) = (
            area_weights(s, d) for s, d in zip(self.src, self.dst, strict=True)
        )
        self.denominator = row_den * col_den
        # float32 holds the integer sums (< 255 * 2**15 < 2**24) exactly, and sum / denominator
        # lands on k + 0.5 exactly when it is a tie and at least 2**-16 away from it otherwise.
        if self.denominator >= 2**15:
            raise ValueError(
                f"{src} -> {dst}: denominator {self.denominator} too large for float32"
            )
        self._row_groups = math.gcd(self.src[0], self.dst[0])
        self._col_groups = math.gcd(self.src[1], self.dst[1])
        self._row_block = self._block(self.rows, self._row_groups)
        self._col_block = self._block(self.cols, self._col_groups).T.copy()

    @staticmethod
    def _block(weights: np.ndarray, groups: int) -> np.ndarray:
        dst, src = weights.shape
        return weights[: dst // groups, : src // groups].astype(np.float32)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        if frames.shape[-2:] != self.src:
            raise ValueError(f"frames of shape {frames.shape}, expected [..., {self.src}]")
        flat = frames.reshape(-1, *self.src)
        out = np.empty((len(flat), *self.dst), np.uint8)
        for i, frame in enumerate(flat):
            out[i] = self._resize(frame)
        return out.reshape(*frames.shape[:-2], *self.dst)

    def _resize(self, frame: np.ndarray) -> np.ndarray:
        """One frame: products this small run on one BLAS thread (batched ones cross OpenBLAS's
        threading threshold, 10x slower when the CPUs are busy)."""
        (height, width), (h, w) = self.src, self.dst
        x = frame.reshape(self._row_groups, height // self._row_groups, width).astype(np.float32)
        y = (self._row_block @ x).reshape(h * self._col_groups, width // self._col_groups)
        z = y @ self._col_block
        z /= np.float32(self.denominator)
        return np.rint(z, out=z).astype(np.uint8).reshape(h, w)


def add_pixel_noise(frames: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """uint8 `frames` plus independent N(0, sigma) noise per pixel, rounded to integers and
    clipped to [0, 255]: Graesser et al. 2022's robustness test (noise on pixel values, before
    the network's normalisation)."""
    check_noise_sigma(sigma)
    if sigma == 0:
        return frames.copy()
    noise = np.rint(rng.normal(0.0, sigma, frames.shape))
    return np.clip(frames + noise, 0, 255).astype(np.uint8)


def check_noise_sigma(sigma: float) -> None:
    """Raise naming `sigma` unless it is a finite standard deviation >= 0."""
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"noise sigma must be finite and >= 0 (pixel values 0-255), got {sigma}")


class FrameStack:
    """The last `size` frames of `num` envs as `[num, 84, 84, size]` uint8, newest last; frames
    from before an episode's first are zeros."""

    def __init__(
        self, num: int, frame_shape: tuple[int, int] = FRAME_SHAPE, size: int = STACK_SIZE
    ):
        self.stack = np.zeros((num, *frame_shape, size), np.uint8)

    def start(self, frames: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
        """Begin new episodes at `frames` `[num, 84, 84]` in the envs `where` is true (all if
        None); returns a copy of all stacks."""
        rows = slice(None) if where is None else where
        self.stack[rows] = 0
        self.stack[rows, ..., -1] = frames[rows]
        return self.stack.copy()

    def push(self, frames: np.ndarray) -> np.ndarray:
        """Append the next frame `[num, 84, 84]` of every env's episode; returns a copy."""
        # one contiguous move of the whole buffer by one byte shifts every pixel's history
        # (the last slot takes the next pixel's first, overwritten just after)
        flat = self.stack.reshape(-1)
        flat[:-1] = flat[1:]
        self.stack[..., -1] = frames
        return self.stack.copy()


@dataclasses.dataclass(frozen=True)
class AtariEnv(EnvFacts):
    """An ALE game under Dopamine's protocol, with the facts agents need: stacked 84x84x4 uint8
    observations, the game's minimal action set, a 27k-step episode cap."""

    # 0.25 for Dopamine's DQN / Rainbow / IQN (Obando-Ceron et al. 2024, Table 2); Atari 100k
    # agents (DER, DrQ(eps)) play without sticky actions (ibid., Table 1): 0.0.
    repeat_action_probability: float = STICKY_ACTION_PROBABILITY
    # Dopamine's Atari 100k agents (DER.gin, DrQ_eps.gin: terminal_on_life_loss = True): a lost
    # life ends the agent's episode (a terminal in replay, a fresh frame stack) while the game
    # goes on; returns stay per game. Off in Dopamine's Atari defaults (Machado et al. 2018).
    terminal_on_life_loss: bool = False

    def __post_init__(self) -> None:
        if not is_a(bool, self.terminal_on_life_loss):
            raise EnvConfigError(
                f"terminal_on_life_loss must be True or False, got {self.terminal_on_life_loss!r}"
            )
        check_number(
            "repeat_action_probability", self.repeat_action_probability, unit, EnvConfigError
        )
        check_number(
            "max_episode_steps", self.max_episode_steps, positive, EnvConfigError, integer=True
        )

    @classmethod
    def from_spec(cls, spec: EnvSpec) -> AtariEnv:
        """The facts of `spec.backend_id` ("ALE/Pong-v5"), reading the action set from one env."""
        env = _make(spec.backend_id, STICKY_ACTION_PROBABILITY, MAX_EPISODE_STEPS)
        try:
            num_actions = int(env.action_space.n)
        finally:
            env.close()
        return cls(
            spec=spec,
            obs_shape=(*FRAME_SHAPE, STACK_SIZE),
            num_actions=num_actions,
            action_shape=(),
            max_episode_steps=MAX_EPISODE_STEPS,
        )

    @property
    def game(self) -> str:
        """The ALE ROM id ("ms_pacman")."""
        return gymnasium.spec(self.spec.backend_id).kwargs["game"]

    def make(self) -> gymnasium.Env:
        """One raw gymnasium ALE env with this protocol's settings: full-size grayscale screens,
        one emulator frame per step (AtariVector does the skipping)."""
        return _make(self.spec.backend_id, self.repeat_action_probability, self.max_episode_steps)

    def vector(self, num: int) -> AtariVector:
        """`num` independent games, one per training run, stepped together with auto-reset."""
        return AtariVector(self, num)

    def evaluator(self, runs: int, episodes: int) -> AtariEvaluator:
        """`runs * episodes` evaluation games, kept open to evaluate many times."""
        return AtariEvaluator(self, runs, episodes)


def _make(backend_id: str, repeat_action_probability: float, max_steps: int) -> gymnasium.Env:
    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)  # no banner per emulator
    return gymnasium.make(
        backend_id,
        obs_type="grayscale",
        frameskip=1,
        repeat_action_probability=repeat_action_probability,
        full_action_space=False,
        max_num_frames_per_episode=max_steps * FRAME_SKIP,
        disable_env_checker=True,
    )


class AtariStep(NamedTuple):
    """One agent step of `num` games; `obs` and `frame` are already reset where an episode
    ended. Fields as `HostStep`'s, plus the single newest frames for replay storage."""

    obs: np.ndarray  # [num, 84, 84, 4] uint8: the last 4 frames, newest last
    reward: np.ndarray  # [num] float32: raw (unclipped) sum over the skipped frames
    terminated: np.ndarray  # [num] bool: game over, do not bootstrap
    truncated: np.ndarray  # [num] bool: the episode cap, bootstrap from final_obs
    final_obs: np.ndarray  # [num, 84, 84, 4] uint8: what the action led to, before any reset
    frame: np.ndarray  # [num, 84, 84] uint8: obs[..., -1]
    final_frame: np.ndarray  # [num, 84, 84] uint8: final_obs[..., -1]
    # [num] bool: with terminal_on_life_loss, the agent's episode ended at a lost life while
    # the game goes on (obs is a fresh stack; not in terminated/truncated); else all False
    life_lost: np.ndarray


class AtariVector(EnvVector):
    """`num` independent ALE games stepped side by side in a Python loop, auto-resetting ended
    episodes.

    Each game is seeded once by `reset(seeds)` (its emulator and sticky-action draws); later
    auto-resets pass no seed, so a run is reproducible from its seed alone. The envs are made
    through gymnasium and stepped through their ALE interface, frame by frame, skipping
    gymnasium's per-frame observation and info.
    """

    def __init__(self, env: AtariEnv, num: int):
        super().__init__(env, num)
        self._ales = [e.unwrapped.ale for e in self.envs]
        self._action_set = self._ales[0].getMinimalActionSet()
        # 210x160; 214 to 250 rows for Carnival, Pooyan, JourneyEscape and AirRaid
        screen = tuple(self._ales[0].getScreenDims())
        self._screens = np.zeros((num, 2, *screen), np.uint8)  # the last two screens per game
        self._resize = AreaResize(screen)
        self._stack = FrameStack(num)
        self._lives = np.zeros(num, np.int64)

    def reset(self, seeds: Sequence[int]) -> np.ndarray:
        """First observations `[num, 84, 84, 4]` uint8 (the first frame, newest last, after 3
        zero frames); game i is seeded with `seeds[i]`."""
        if len(seeds) != self.num:
            raise ValueError(f"expected {self.num} seeds, got {len(seeds)}")
        for i, (env, seed) in enumerate(zip(self.envs, seeds, strict=True)):
            env.reset(seed=int(seed))
            self._read_first_screen(i)
        self._lives = np.array([ale.lives() for ale in self._ales])
        return self._stack.start(self._frames(slice(None)))

    def step(self, actions: Any) -> AtariStep:
        """Play `actions[i]` (indices into the minimal action set, `[num]`) in game i for one
        agent step; a game whose episode ended is reset and its new first frame returned."""
        actions = self.check_actions(actions)
        reward = np.empty(self.num, np.float32)
        terminated = np.empty(self.num, bool)
        truncated = np.empty(self.num, bool)
        for i in range(self.num):
            reward[i], terminated[i], truncated[i] = self._act(i, int(actions[i]))
        life_lost = self._life_lost(terminated | truncated)
        final_frame = self._frames(slice(None))
        final_obs = self._stack.push(final_frame)
        frame, ended = final_frame.copy(), np.flatnonzero(terminated | truncated)
        for i in ended:
            self._ales[i].reset_game()
            self._read_first_screen(i)
            self._lives[i] = self._ales[i].lives()
        restart = terminated | truncated | life_lost
        if restart.any():
            frame[ended] = self._frames(ended)
            obs = self._stack.start(frame, restart)
        else:
            obs = final_obs.copy()
        return AtariStep(
            obs, reward, terminated, truncated, final_obs, frame, final_frame, life_lost
        )

    def _life_lost(self, ended: np.ndarray) -> np.ndarray:
        """Games that lost a life this step and play on, where lives end the agent's episode
        (all False without `terminal_on_life_loss`); remembers every game's lives."""
        lives = np.array([ale.lives() for ale in self._ales])
        lost = (lives < self._lives) & ~ended & self.env.terminal_on_life_loss
        self._lives = lives
        return lost

    def check_actions(self, actions: Any) -> np.ndarray:
        """`actions` as an integer array `[num]` of valid action indices, or an error naming
        the bad shape, dtype or values and the allowed ones."""
        actions = np.asarray(actions)
        if actions.shape != (self.num,):
            raise ValueError(f"actions of shape {actions.shape}, expected ({self.num},)")
        if not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(f"actions must be integers, got dtype {actions.dtype}")
        bad = actions[(actions < 0) | (actions >= self.env.num_actions)]
        if len(bad):
            raise ValueError(
                f"actions {bad.tolist()} out of range for {self.env.env_id}: "
                f"0..{self.env.num_actions - 1}"
            )
        return actions

    def _act(self, i: int, action: int) -> tuple[float, bool, bool]:
        """Game i plays `action` for FRAME_SKIP frames (fewer if the episode ends), leaving the
        last two screens in `_screens[i]` (the terminal screen twice if the episode ended before
        the step's last frame); returns (summed reward, terminated, truncated)."""
        ale, screens, ale_action = self._ales[i], self._screens[i], self._action_set[action]
        reward = 0.0
        for k in range(FRAME_SKIP):
            reward += ale.act(ale_action)
            if ale.game_over():  # with truncation
                ale.getScreenGrayscale(screens[1])
                if k < FRAME_SKIP - 1:
                    screens[0] = screens[1]
                terminated = ale.game_over(with_truncation=False)
                return reward, terminated, not terminated
            if k >= FRAME_SKIP - 2:
                ale.getScreenGrayscale(screens[k - (FRAME_SKIP - 2)])
        return reward, False, False

    def _read_first_screen(self, i: int) -> None:
        """The screen after a reset, alone (Dopamine pools it with a blank one)."""
        self._ales[i].getScreenGrayscale(self._screens[i, 0])
        self._screens[i, 1] = self._screens[i, 0]

    def _frames(self, games: np.ndarray | slice) -> np.ndarray:
        """The 84x84 frames `[len(games), 84, 84]` of `games` (indices, or a slice to read them
        without a copy): the max over their last two screens, area-resampled."""
        return self._resize(np.maximum(self._screens[games, 0], self._screens[games, 1]))


class AtariEvaluator(VectorEvaluator):
    """Evaluates `runs` policies for `episodes` episodes each on `runs * episodes` games, with
    optional pixel noise (Graesser et al. 2022's robustness test)."""

    vector_class = AtariVector

    def evaluate(self, policy: Policy, seed: int, noise_sigma: float = 0.0) -> np.ndarray:
        """Mean raw (unclipped) return per run, `[runs]` float64, of one episode in every game,
        each capped at `max_episode_steps`.

        `policy(obs)` maps uint8 `[runs, episodes, 84, 84, 4]` to action indices `[runs,
        episodes]`; it is called once per agent step for all games. With `noise_sigma` > 0 each
        new frame gets `add_pixel_noise` (seeded by `seed`) before it enters the stack. Ended
        episodes are not stepped again: their rows keep their last observation and their
        actions are ignored.
        """
        check_noise_sigma(noise_sigma)
        runs, episodes, n = self.runs, self.episodes, self.runs * self.episodes
        vector, rng = self.vector, np.random.default_rng(seed)
        frames = vector.reset(episode_seeds(seed, runs, episodes).ravel())[..., -1].copy()
        stack = FrameStack(n)
        obs = stack.start(add_pixel_noise(frames, noise_sigma, rng))
        returns = np.zeros(n, np.float64)
        active = np.ones(n, bool)
        while active.any():
            actions = np.asarray(policy(obs.reshape(runs, episodes, *obs.shape[1:])))
            actions = vector.check_actions(actions.reshape(n))
            playing = np.flatnonzero(active)
            for i in playing:
                reward, terminated, truncated = vector._act(i, int(actions[i]))
                returns[i] += reward
                active[i] = not (terminated or truncated)
            life_lost = vector._life_lost(~active)
            frames[playing] = add_pixel_noise(vector._frames(playing), noise_sigma, rng)
            obs = stack.push(frames)
            if life_lost.any():  # the agent's episode restarts, as in training
                obs = stack.start(frames, life_lost)
        return returns.reshape(runs, episodes).mean(axis=1)
