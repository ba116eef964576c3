"""The masked optimizer wrapper and optimizer-moment resets."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import make_step

import sparserl.sparsity as sp

OPTIMIZERS = {
    "adamw": optax.adamw(1e-2, weight_decay=0.1),
    "sgd_momentum": optax.sgd(1e-2, momentum=0.9),
    "rmsprop": optax.rmsprop(1e-2),
    "rmsprop_centered": optax.rmsprop(1e-2, centered=True, momentum=0.9),
    "adam_injected": optax.inject_hyperparams(optax.adam)(learning_rate=1e-2),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_params_satisfy_masks_after_every_step(name, mlp, data, params):
    method = sp.RigL(sparsity=0.9, distribution="uniform", total_steps=30, update_interval=4)
    optimizer = sp.masked(OPTIMIZERS[name])
    p, st = method.init(params, jax.random.key(0))
    o = optimizer.init(p)
    step = make_step(mlp, data, method, optimizer)
    for t in range(1, 21):
        p, o, st = step(p, o, st, t)
        assert sp.mask_violations(p, st.masks) == 0, (name, t)
        for moments in sp.moment_trees(o):
            assert sp.mask_violations(moments, st.masks) == 0


def test_reset_moments_zeroes_exactly_outside_keep():
    params = {"params": {"d": {"kernel": jnp.ones((2, 3)), "bias": jnp.ones(3)}}}
    state = optax.adam(1e-3).init(params)
    state = jax.tree.map(lambda x: x + 1 if x.ndim else x, state)
    keep = {
        "params": {
            "d": {"kernel": jnp.array([[True, False, True], [False, True, True]]), "bias": None}
        }
    }
    mu, nu = sp.moment_trees(sp.reset_moments(state, keep))
    for tree in (mu, nu):
        np.testing.assert_array_equal(tree["params"]["d"]["kernel"], [[1, 0, 1], [0, 1, 1]])
        np.testing.assert_array_equal(tree["params"]["d"]["bias"], [1, 1, 1])


def test_unsupported_optimizer_state_is_refused():
    params = {"params": {"d": {"kernel": jnp.ones((2, 3))}}}
    keep = {"params": {"d": {"kernel": jnp.ones((2, 3), bool)}}}
    state = optax.lion(1e-3).init(params)
    with pytest.raises(
        sp.SparsityConfigError, match=r"ScaleByLionState.*'mu'.*adam, adamw, sgd, rmsprop"
    ):
        sp.reset_moments(state, keep)
