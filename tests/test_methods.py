"""Invariants of the sparse methods: exact counts, zero-initialised growth, reset moments,
schedules reached, seeds, and jit/vmap equivalence."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import make_step

import sparserl.sparsity as sp
from sparserl.sparsity.masks import named_masks


def _np_named(tree):
    return {k: np.asarray(v) for k, v in named_masks(tree).items()}


def _kernels(params):
    return {k.split("/")[0]: np.asarray(v["kernel"]) for k, v in params["params"].items()}


def _moments(opt_state):
    return [_kernels(m) for m in sp.moment_trees(opt_state)]


DYNAMIC = [
    sp.SET(
        sparsity=0.8, distribution="uniform", total_steps=60, update_interval=5, drop_fraction=0.5
    ),
    sp.RigL(
        sparsity=0.8, distribution="uniform", total_steps=60, update_interval=5, drop_fraction=0.5
    ),
    sp.DynamicSparse(sparsity=0.8, update_interval=5, drop_fraction=0.2),
]


@pytest.mark.parametrize("method", DYNAMIC, ids=lambda m: m.name)
def test_every_update_keeps_counts_and_zero_initialises_growth(
    method, mlp, data, params, masked_adam
):
    p, st = method.init(params, jax.random.key(3))
    o = masked_adam.init(p)
    step = make_step(mlp, data, method, masked_adam)
    counts = sp.mask_counts(st.masks)
    assert counts == {n: int(k) for n, k in _np_named(st.nonzeros).items()}
    changed_steps = 0
    for t in range(1, 41):
        old = _np_named(st.masks)
        p, o, st = step(p, o, st, t)
        new = _np_named(st.masks)
        assert sp.mask_counts(st.masks) == counts  # unchanged per layer, after every step
        kernels, moments = _kernels(p), _moments(o)
        for name in new:
            assert not np.any(kernels[name][~new[name]])  # params respect the mask exactly
            grown = new[name] & ~old[name]
            dropped = old[name] & ~new[name]
            if t % 5:
                assert not grown.any() and not dropped.any()
                continue
            changed_steps += bool(grown.any())
            assert grown.sum() == dropped.sum()
            assert np.all(kernels[name][grown] == 0.0)
            assert np.all(kernels[name][dropped] == 0.0)
            for m in moments:
                assert np.all(m[name][grown] == 0.0) and np.all(m[name][dropped] == 0.0)
    assert changed_steps >= 8  # the topology really moved


def test_set_stops_evolving_at_end_fraction(mlp, data, params, masked_adam):
    method = sp.SET(
        sparsity=0.8, distribution="uniform", total_steps=40, update_interval=5, end_fraction=0.5
    )
    p, st = method.init(params, jax.random.key(0))
    o = masked_adam.init(p)
    step = make_step(mlp, data, method, masked_adam)
    for t in range(1, 41):
        before = _np_named(st.masks)
        p, o, st = step(p, o, st, t)
        moved = any((before[n] != m).any() for n, m in _np_named(st.masks).items())
        assert moved == (t % 5 == 0 and t < 20), t


def test_ds_removes_weights_closest_to_zero_on_each_sign():
    method = sp.DynamicSparse(
        distribution="uniform", sparsity=0.5, dense_output=False, drop_fraction=0.25
    )
    w = (
        jnp.zeros((2, 50))
        .at[:, :4]
        .set(jnp.array([[0.5, -0.1, 0.2, -0.9], [0.05, -0.3, 0.7, -0.02]]))
    )
    params = {"params": {"Dense_0": {"kernel": w}}}
    _, st = method.init(params, jax.random.key(0))
    st = st.replace(masks={"params": {"Dense_0": {"kernel": w != 0}}})
    opt = sp.masked(optax.sgd(0.1))
    p2, _, st2 = method.update(st, params, opt.init(params), None, 1000)
    # 4 positives -> drop round(0.25 * 4) = 1, the smallest (0.05); 4 negatives -> drop the
    # largest (-0.02); 2 regrown at random among the 94 other places, at zero.
    k = np.asarray(p2["params"]["Dense_0"]["kernel"])
    assert k[1, 0] == 0.0 and k[1, 3] == 0.0
    assert sorted(k[k != 0].tolist()) == pytest.approx(sorted([0.5, -0.1, 0.2, -0.9, -0.3, 0.7]))
    assert sp.mask_counts(st2.masks) == {"Dense_0": 8}
    assert not np.asarray(st2.masks["params"]["Dense_0"]["kernel"])[1, [0, 3]].all()


def test_rigl_grows_where_the_gradient_is_largest():
    method = sp.RigL(
        sparsity=0.5, distribution="uniform", total_steps=100, update_interval=10, drop_fraction=0.5
    )
    w = jnp.array([[1.0, 0.0, 2.0, 0.0], [0.0, 3.0, 0.0, 0.1]])
    params = {"params": {"d": {"kernel": w}}}
    _, st = method.init(params, jax.random.key(0))
    st = st.replace(masks={"params": {"d": {"kernel": w != 0}}})
    grads = {"params": {"d": {"kernel": jnp.array([[0.0, 5.0, 0.0, 1.0], [0.2, 0.0, 0.3, 0.0]])}}}
    opt = sp.masked(optax.sgd(0.1))
    p2, _, st2 = method.update(st, params, opt.init(params), grads, 10)
    # drop fraction at t=10: 0.5/2 (1 + cos(pi 10/80)) = 0.962... -> round(0.481 * 4) = 2 dropped
    # (1.0 and 0.1, smallest magnitudes), 2 grown at the largest |grad| among the rest (5.0, 1.0).
    expected = np.array([[False, True, True, True], [False, True, False, False]])
    assert np.array_equal(np.asarray(st2.masks["params"]["d"]["kernel"]), expected)
    assert np.asarray(p2["params"]["d"]["kernel"]).tolist() == [[0, 0, 2, 0], [0, 3, 0, 0]]


def test_prune_reaches_target_at_t_end_and_freezes(mlp, data, params, masked_adam):
    method = sp.Prune(sparsity=0.9, distribution="uniform", total_steps=100, update_interval=7)
    p, st = method.init(params, jax.random.key(0))
    assert all(m.all() for m in _np_named(st.masks).values())  # starts dense
    o = masked_adam.init(p)
    step = make_step(mlp, data, method, masked_adam)
    target = {n: int(k) for n, k in _np_named(st.nonzeros).items()}
    assert method.start_step == 20 and method.end_step == 80
    history = []
    for t in range(1, 101):
        p, o, st = step(p, o, st, t)
        history.append(sp.mask_counts(st.masks))
        if t == 80:
            final = _np_named(st.masks)
            assert history[-1] == target  # the target sparsity exactly at t_end (80 % 7 != 0)
            assert sp.nonzero_counts(p) == target
        if t > 80:
            assert all(np.array_equal(final[n], m) for n, m in _np_named(st.masks).items())
    # Monotone: never grows back; untouched before t_start.
    totals = [sum(h.values()) for h in history]
    assert totals == sorted(totals, reverse=True)
    assert totals[18] == sum(m.size for m in final.values())
    # At t = 49 (an update step): kept = n - round((n - k) * (1 - (1 - 29/60)^3))
    size, k = 64 * 64, target["Dense_1"]
    progress = 1 - (1 - 29 / 60) ** 3
    assert history[48]["Dense_1"] == size - int(np.floor((size - k) * progress + 0.5))


def test_masks_differ_across_seeds(params):
    method = sp.Static(sparsity=0.9, distribution="uniform")
    a = _np_named(method.init(params, jax.random.key(0))[1].masks)
    b = _np_named(method.init(params, jax.random.key(1))[1].masks)
    assert all((a[n] != b[n]).any() for n in a)
    assert sp.mask_counts(method.init(params, jax.random.key(1))[1].masks) == {
        n: int(m.sum()) for n, m in a.items()
    }


@pytest.mark.parametrize(
    "method",
    [DYNAMIC[1], sp.Prune(sparsity=0.8, total_steps=40, update_interval=5)],
    ids=lambda m: m.name,
)
def test_vmap_over_seed_sparsity_and_drop_fraction_matches_separate_runs(
    method, mlp, data, params, masked_adam
):
    step = make_step(mlp, data, method, masked_adam)

    def run(key, counts, drop):
        p, st = method.init(params, key, counts, drop)
        o = masked_adam.init(p)
        for t in range(1, 21):
            p, o, st = step(p, o, st, t)
        return p, st

    keys = jnp.stack([jax.random.key(0), jax.random.key(1), jax.random.key(2)])
    levels = [0.5, 0.8, 0.95]
    drops = jnp.array([0.1, 0.3, 0.5])
    counts = jax.tree.map(
        lambda *xs: np.stack(xs), *[method.kept_counts(params, s) for s in levels]
    )

    def one_program(keys, counts, drops):
        def body(key, tg, drop):
            p, st = method.init(params, key, tg, drop)
            o = masked_adam.init(p)

            def scan_step(carry, t):
                p, o, st = carry
                return step(p, o, st, t), None

            (p, o, st), _ = jax.lax.scan(scan_step, (p, o, st), jnp.arange(1, 21))
            return p, st

        return jax.jit(jax.vmap(body))(keys, counts, drops)

    p_batch, st_batch = one_program(keys, counts, drops)
    for i, s in enumerate(levels):
        p_one, st_one = run(keys[i], method.kept_counts(params, s), float(drops[i]))
        for a, b in zip(jax.tree.leaves(p_one), jax.tree.leaves(p_batch), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b)[i], rtol=1e-5, atol=1e-6)
        masks_batch = {n: m[i] for n, m in _np_named(st_batch.masks).items()}
        for n, m in _np_named(st_one.masks).items():
            assert np.array_equal(m, masks_batch[n])


def test_sparsity_aware_init_rescales_by_fan_in_density(params):
    plain = sp.Static(sparsity=0.75, distribution="uniform", sparsity_aware_init=False)
    aware = sp.Static(sparsity=0.75, distribution="uniform")
    p0, _ = plain.init(params, jax.random.key(0))
    p1, _ = aware.init(params, jax.random.key(0))
    for name in ("Dense_0", "Dense_1", "Dense_2"):
        a, b = _kernels(p0)[name], _kernels(p1)[name]
        density = np.count_nonzero(a) / a.size
        np.testing.assert_allclose(b, a / np.sqrt(density), rtol=1e-6)
    # 64 x 64 at 75% sparsity keeps 1024 -> factor exactly 2
    np.testing.assert_allclose(_kernels(p1)["Dense_1"], 2 * _kernels(p0)["Dense_1"], rtol=1e-6)


def test_dense_method_changes_nothing(mlp, data, params, masked_adam):
    method = sp.Dense()
    p, st = method.init(params, jax.random.key(0))
    assert jax.tree.leaves(st.masks) == []
    p2, _, _ = make_step(mlp, data, method, masked_adam)(p, masked_adam.init(p), st, 1)
    adam = optax.adam(1e-2)
    grads = jax.grad(lambda q: jnp.mean((mlp.apply(q, data[0]) - data[1]) ** 2))(p)
    reference = optax.apply_updates(p, adam.update(grads, adam.init(p), p)[0])
    for a, b in zip(jax.tree.leaves(reference), jax.tree.leaves(p2), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8)


def test_lottery_ticket_rewinds_to_initial_weights_with_the_pruned_mask(
    mlp, data, params, masked_adam
):
    prune = sp.Prune(sparsity=0.9, total_steps=30, update_interval=5)
    p, st = prune.init(params, jax.random.key(0))
    o = masked_adam.init(p)
    step = make_step(mlp, data, prune, masked_adam)
    for t in range(1, 31):
        p, o, st = step(p, o, st, t)
    ticket = sp.LotteryTicket()
    p_lt, st_lt = ticket.init(params, jax.random.key(0), masks=st.masks)
    final = _np_named(st.masks)
    for name, k in _kernels(p_lt).items():
        np.testing.assert_array_equal(k, np.where(final[name], _kernels(params)[name], 0.0))
    o = masked_adam.init(p_lt)
    step = make_step(mlp, data, ticket, masked_adam)
    for t in range(1, 11):
        p_lt, o, st_lt = step(p_lt, o, st_lt, t)
    assert sp.mask_counts(st_lt.masks) == sp.mask_counts(st.masks)
    assert all(not np.any(k[~final[n]]) for n, k in _kernels(p_lt).items())
    with pytest.raises(sp.SparsityConfigError, match="masks="):
        ticket.init(params, jax.random.key(0))


def test_output_layer_kept_dense_on_request(params):
    _, st = sp.Static(sparsity=0.9, dense_output=True).init(params, jax.random.key(0))
    assert set(sp.mask_counts(st.masks)) == {"Dense_0", "Dense_1"}


def test_unknown_method_and_option_are_named():
    with pytest.raises(sp.SparsityConfigError, match=r"'magic'.*'dense'.*'rigl'"):
        sp.make_method("magic")
    with pytest.raises(sp.SparsityConfigError, match=r"\['drop'\].*drop_fraction"):
        sp.make_method("rigl", drop=0.3, total_steps=10)
    with pytest.raises(
        sp.SparsityConfigError, match=r"sparsity must be a number in \[0, 1\), got 1.0"
    ):
        sp.make_method("static", sparsity=1.0)
    with pytest.raises(
        sp.SparsityConfigError, match=r"total_steps must be a positive integer, got 0"
    ):
        sp.make_method("prune")
    with pytest.raises(sp.SparsityConfigError, match=r"unknown distribution 'log'"):
        sp.make_method("set", distribution="log", total_steps=10)


def test_override_of_missing_layer_fails_before_training(params):
    method = sp.Static(sparsity=0.5, dense_layers=("Dense_9",))
    with pytest.raises(sp.SparsityConfigError, match=r"Dense_9.*Dense_0"):
        method.init(params, jax.random.key(0))
