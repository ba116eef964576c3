"""DrQ's image augmentation for pixel-based value agents (Kostrikov et al. 2020), as Dopamine's
Atari-100k agents apply it to every sampled batch (dopamine/labs/atari_100k,
atari_100k_rainbow_agent.py: `drq_image_augmentation`).

Dopamine pads each [84, 84, 4] frame stack by 4 pixels with edge replication (in place of
PyTorch's ReplicationPad2d of the DrQ reference), crops an 84x84 window at an offset drawn
independently per example, then scales each example's intensity by 1 + 0.05 * clip(N(0, 1),
-2, 2) (the intensity augmentation of Schwarzer et al. 2021, SPR). It augments `obs` and
`next_obs` with independent draws, in training updates only (acting sees raw frames).

One difference from Dopamine: its crop offsets are `randint(0, 2 * pad)`, whose upper bound is
exclusive (0..7 for pad 4), so it never shifts content up or left by the full 4 pixels; here
offsets cover 0..2 * pad inclusive, the symmetric ±pad shifts DrQ describes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sparserl.validation import check_number, non_negative

PAD = 4  # DrQ (Kostrikov et al. 2020) and Dopamine's drq_image_augmentation: img_pad=4
INTENSITY_SCALE = 0.05  # Dopamine's _intensity_aug default, after Schwarzer et al. 2021


def _check_images(obs: jax.Array, pad: int) -> None:
    if obs.ndim != 4:
        raise ValueError(f"expected images [B, H, W, C], got shape {obs.shape}")
    check_number("pad", pad, non_negative, ValueError, integer=True)


def shift(obs: jax.Array, offsets: jax.Array, pad: int = PAD) -> jax.Array:
    """Each image of `obs` [B, H, W, C] edge-padded by `pad` and cropped back to H x W at its
    row/column offset `offsets[b]` in [0, 2 * pad]: offset (pad, pad) is the identity, (0, 0)
    moves the content `pad` pixels down and right. Same shape and dtype as `obs`."""
    _check_images(obs, pad)
    padded = jnp.pad(obs, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    height, width, channels = obs.shape[1:]

    def crop(image: jax.Array, offset: jax.Array) -> jax.Array:
        start = (offset[0], offset[1], jnp.zeros_like(offset[0]))
        return jax.lax.dynamic_slice(image, start, (height, width, channels))

    return jax.vmap(crop)(padded, offsets)


def random_offsets(key: jax.Array, batch_size: int, pad: int = PAD) -> jax.Array:
    """Offsets [batch_size, 2] (row, column) drawn uniformly and independently in
    [0, 2 * pad], one pair per example."""
    return jax.random.randint(key, (batch_size, 2), 0, 2 * pad + 1)


def random_shift(key: jax.Array, obs: jax.Array, pad: int = PAD) -> jax.Array:
    """DrQ's random shift: every image of `obs` [B, H, W, C] shifted by up to `pad` pixels
    per axis, independently per example, with edge replication. Same shape and dtype."""
    return shift(obs, random_offsets(key, obs.shape[0], pad), pad)


def random_intensity(key: jax.Array, obs: jax.Array, scale: float = INTENSITY_SCALE) -> jax.Array:
    """Each example of `obs` [B, ...] times 1 + scale * clip(N(0, 1), -2, 2), as float32: the
    intensity augmentation Dopamine applies after DrQ's shift (Schwarzer et al. 2021). It is
    multiplicative, so raw [0, 255] frames and frames scaled to [0, 1] are treated alike."""
    noise = jnp.clip(jax.random.normal(key, (obs.shape[0],) + (1,) * (obs.ndim - 1)), -2.0, 2.0)
    return jnp.asarray(obs, jnp.float32) * (1.0 + scale * noise)


def drq_augmentation(key: jax.Array, obs: jax.Array, pad: int = PAD) -> jax.Array:
    """Dopamine's full DrQ augmentation of one batch of images [B, H, W, C]: `random_shift`
    then `random_intensity`, with independent keys; returns float32."""
    shift_key, intensity_key = jax.random.split(key)
    return random_intensity(intensity_key, random_shift(shift_key, obs, pad))
