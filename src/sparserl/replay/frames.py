"""Compact replay for stacked-frame observations (Atari): one uint8 frame per transition, the
stacks rebuilt by index when a batch is drawn (Dopamine's circular buffer idea), so a 1M
buffer of 84x84 frames is 7 GB rather than 56 GB of stored stacks.

Slot t holds the newest frame of s_t, a_t, the raw r_t, and whether the step ended the episode
(`episode_end`) as a true termination (`terminal`). The stack of s_t is frames t-S+1..t with
the frames from before the episode's first frame zeroed (the acting side's convention,
`envs.atari.FrameStack`), and so are frames overwritten by newer data. s_{t+1} is the stack at
slot t+1, so a slot is drawn only once slot t+n is written; a window that ends at a time-limit
truncation cannot bootstrap (the final frame is not stored) and is never drawn, as in
Dopamine. Drawing is proportional to a sum-tree of priorities: 0 for slots not (yet) drawable,
else the running maximum (uniform replay leaves them there; prioritized replay updates them).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from sparserl.replay import sumtree
from sparserl.replay.nstep import nstep_returns
from sparserl.replay.prioritized import INITIAL_MAX_PRIORITY

STACK_SIZE = 4  # frames per observation (Mnih et al. 2015); Atari's observations stack as many


@struct.dataclass
class FrameReplayState:
    """Frames and one-step fields per slot, ring position and fill, sum-tree, max priority."""

    storage: dict[str, jax.Array]  # frame [C, H, W] uint8; action, reward, terminal, episode_end
    position: jax.Array
    size: jax.Array
    tree: jax.Array
    max_priority: jax.Array


def init_frame_replay(frame_shape: tuple[int, int], capacity: int) -> FrameReplayState:
    """An empty buffer of `capacity` transitions with frames of `frame_shape`."""
    if capacity < 1:
        raise ValueError(f"capacity must be >= 1, got {capacity}")
    zero = jnp.zeros((), jnp.int32)
    storage = {
        "frame": jnp.zeros((capacity, *frame_shape), jnp.uint8),
        "action": jnp.zeros(capacity, jnp.int32),
        "reward": jnp.zeros(capacity, jnp.float32),
        "terminal": jnp.zeros(capacity, bool),
        "episode_end": jnp.zeros(capacity, bool),
    }
    return FrameReplayState(
        storage, zero, zero, sumtree.init_tree(capacity), jnp.float32(INITIAL_MAX_PRIORITY)
    )


def add(
    state: FrameReplayState,
    frame: jax.Array,
    action: jax.Array,
    reward: jax.Array,
    terminal: jax.Array,
    episode_end: jax.Array,
    n_step: int,
) -> FrameReplayState:
    """Write one step at priority 0 and make the slot written `n_step` adds earlier drawable
    (its window and the frame after it are now stored) unless its window ends in a truncation.
    `n_step` must be a static int in [1, capacity - STACK_SIZE]."""
    capacity = state.storage["frame"].shape[0]
    if not 1 <= n_step <= capacity - STACK_SIZE:
        raise ValueError(f"n_step must be in [1, capacity - {STACK_SIZE}={capacity - STACK_SIZE}]")
    values = {
        "frame": frame,
        "action": action,
        "reward": reward,
        "terminal": terminal,
        "episode_end": episode_end | terminal,
    }
    storage = {k: v.at[state.position].set(values[k]) for k, v in state.storage.items()}
    completed = (state.position - n_step) % capacity
    _, _, last = nstep_returns(storage, completed[None], n_step, 1.0)
    truncated = storage["episode_end"][last[0]] & ~storage["terminal"][last[0]]
    drawable = (state.size >= n_step) & ~truncated
    slots = jnp.stack([state.position, completed])
    priorities = jnp.stack([0.0, jnp.where(drawable, state.max_priority, 0.0)])
    tree = sumtree.set_leaves(state.tree, slots, priorities)
    return state.replace(
        storage=storage,
        position=(state.position + 1) % capacity,
        size=jnp.minimum(state.size + 1, capacity),
        tree=tree,
    )


def end_episode(state: FrameReplayState) -> FrameReplayState:
    """Mark the newest slot as its episode's end, a truncation (its windows are never drawn):
    for environments that restart mid-episode (a resumed run), so that the frames before and
    after do not stack together."""
    newest = (state.position - 1) % state.storage["frame"].shape[0]
    ends = state.storage["episode_end"]
    ends = ends.at[newest].set(ends[newest] | (state.size > 0))
    return state.replace(storage={**state.storage, "episode_end": ends})


def sample_indices(
    state: FrameReplayState, key: jax.Array, batch_size: int
) -> tuple[jax.Array, jax.Array]:
    """(indices, probabilities): a stratified draw in proportion to the priorities; sample
    only once something is drawable (the minimum replay size)."""
    return sumtree.sample_leaves(state.tree, key, batch_size)


def update_priorities(
    state: FrameReplayState, indices: jax.Array, priorities: jax.Array
) -> FrameReplayState:
    """Set the drawn slots' priorities (prioritized replay) and raise the running maximum."""
    tree = sumtree.set_leaves(state.tree, indices, priorities)
    return state.replace(tree=tree, max_priority=jnp.maximum(state.max_priority, priorities.max()))


def stacked_frames(state: FrameReplayState, indices: jax.Array) -> jax.Array:
    """The observations [B, H, W, STACK_SIZE] (oldest frame first) ending at slot `indices`:
    frames before each episode's first frame, or older than the oldest stored, are zeros."""
    storage = state.storage
    capacity = storage["frame"].shape[0]
    age = (indices - (state.position - state.size)) % capacity  # 0 for the oldest slot
    back = jnp.arange(STACK_SIZE - 1, -1, -1)  # how far back each stacked frame is
    slots = (indices[:, None] - back) % capacity
    # frame t-k belongs to slot t's episode if no episode ended at t-k..t-1
    ends = storage["episode_end"][slots].astype(jnp.int32)
    ended_from = jnp.cumsum(ends[:, ::-1], axis=1)[:, ::-1] - ends[:, -1:]  # at t-k..t-1
    keep = (ended_from == 0) & (back[None, :] <= age[:, None])
    frames = storage["frame"][slots] * keep[:, :, None, None].astype(jnp.uint8)
    return jnp.moveaxis(frames, 1, -1)


def nstep_frame_batch(
    state: FrameReplayState, indices: jax.Array, n_step: int, gamma: float | jax.Array
) -> dict[str, jax.Array]:
    """The n-step transitions starting at `indices`, as `replay.nstep_batch` builds them, with
    `obs` and `next_obs` stacked from the stored frames (uint8 [B, H, W, STACK_SIZE])."""
    returns, discounts, last = nstep_returns(state.storage, indices, n_step, gamma)
    capacity = state.storage["frame"].shape[0]
    return {
        "obs": stacked_frames(state, indices),
        "action": state.storage["action"][indices],
        "return": returns,
        "next_obs": stacked_frames(state, (last + 1) % capacity),
        "discount": discounts,
    }
