"""sparserl.replay: pure-JAX replay buffers (uniform and prioritized) with n-step returns.

Buffer states are pytrees and every operation is a pure function, so buffers live inside
`jit`, `lax.scan` and `vmap` (one buffer per seed). Both kinds share the API shape
`init_*`, `add`, `sample_indices`; use them as `replay.uniform.add`, `replay.prioritized.add`,
and turn sampled indices into training batches with `nstep_batch`. `replay.frames` keeps
stacked-frame observations (Atari) compactly, one uint8 frame per transition; `storage` is
the ring buffer under all of them.
"""

from sparserl.replay import frames, prioritized, uniform
from sparserl.replay.nstep import nstep_batch
from sparserl.replay.prioritized import PrioritizedState, importance_weights, init_prioritized
from sparserl.replay.uniform import ReplayState, init_replay

__all__ = [
    "frames",
    "PrioritizedState",
    "ReplayState",
    "importance_weights",
    "init_prioritized",
    "init_replay",
    "nstep_batch",
    "prioritized",
    "uniform",
]
