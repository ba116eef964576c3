"""sparserl.analysis measures on hand-computed inputs, each equal per run and vmapped over runs,
and the hidden activations every network records (shapes, order, outputs unchanged)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sparserl.nets as nets
from sparserl.analysis import (
    dormant_fraction,
    gradient_cosine_matrix,
    gradient_snr,
    hidden_activations,
    mask_turnover,
    parameter_norm,
    per_example_gradients,
    q_statistics,
    srank,
)
from sparserl.nets.actor_critic import GaussianActor, TwinCritic

KEY = jax.random.key(0)

# A dense layer [batch 2, 4 units]: mean |a| over the batch 0.25, 0, 1.75, 2 (layer mean 1, so
# these are the scores, all exact in float32).
DENSE = jnp.array([[0.5, 0.0, -1.5, 2.0], [0.0, 0.0, 2.0, -2.0]])
# A conv layer [batch 2, 2 x 2, 3 channels]: channel 0 dead, channel 1 a single spike of 8 over
# its 8 positions (mean 1), channel 2 at ±2 everywhere (mean 2): scores 0, 1, 2.
CONV = jnp.zeros((2, 2, 2, 3)).at[1, 0, 1, 1].set(8.0).at[..., 2].set(2.0).at[0, :, 0, 2].set(-2.0)


def test_dormant_fraction_of_chosen_dead_and_live_units():
    total, per_layer = dormant_fraction([DENSE, CONV])
    # τ = 0.1: the dense layer's dead unit (1 of 4), the conv layer's dead channel (1 of 3)
    np.testing.assert_allclose(per_layer, [1 / 4, 1 / 3])
    np.testing.assert_allclose(total, 2 / 7)  # over all 7 neurons, not the mean of the layers


def test_dormant_fraction_threshold_is_inclusive():
    # the first unit's score is exactly 0.25: dormant at τ = 0.25, live just below
    assert float(dormant_fraction([DENSE], tau=0.25)[0]) == 0.5
    assert float(dormant_fraction([DENSE], tau=0.2)[0]) == 0.25
    # scores 0, 1, 2 of the conv channels: τ = 1 takes the spiky channel too
    assert float(dormant_fraction([CONV], tau=1.0)[0]) == pytest.approx(2 / 3)


def test_dormant_fraction_refuses_an_empty_list():
    with pytest.raises(ValueError, match="at least one layer"):
        dormant_fraction([])


def test_dormant_fraction_is_scale_free_and_a_dead_layer_is_all_dormant():
    assert float(dormant_fraction([DENSE * 1e3])[0]) == 0.25
    total, per_layer = dormant_fraction([jnp.zeros((5, 6)), DENSE])
    np.testing.assert_allclose(per_layer, [1.0, 0.25])
    np.testing.assert_allclose(total, (6 + 1) / 10)


def _matrix_with_singular_values(values, rows=16, seed=0):
    """U diag(s) V^T with orthonormal U [rows, d] and orthogonal V [d, d]."""
    d = len(values)
    ku, kv = jax.random.split(jax.random.key(seed))
    u, _ = jnp.linalg.qr(jax.random.normal(ku, (rows, d)))
    v, _ = jnp.linalg.qr(jax.random.normal(kv, (d, d)))
    return u @ jnp.diag(jnp.asarray(values)) @ v.T


# singular values 4, 2, 1, 0.5, 0.25, 0.25 (sum 8): cumulative shares 0.5, 0.75, 0.875,
# 0.9375, 0.96875, 1; srank is the first k whose share reaches 1 - δ
SINGULAR = [4.0, 2.0, 1.0, 0.5, 0.25, 0.25]


@pytest.mark.parametrize(
    ("delta", "expected"), [(0.01, 6), (0.02, 6), (0.05, 5), (0.1, 4), (0.2, 3), (0.3, 2), (0.6, 1)]
)
def test_srank_of_known_singular_values(delta, expected):
    features = _matrix_with_singular_values(SINGULAR)
    np.testing.assert_allclose(jnp.linalg.svd(features, compute_uv=False), SINGULAR, rtol=1e-5)
    rank = srank(features, delta)
    assert rank.dtype == jnp.int32
    assert int(rank) == expected


def test_srank_of_rank_one_zero_and_extra_row_axes():
    assert int(srank(jnp.outer(jnp.arange(1.0, 6.0), jnp.ones(4)))) == 1
    assert int(srank(jnp.zeros((8, 4)))) == 0
    features = _matrix_with_singular_values(SINGULAR)
    assert int(srank(features.reshape(4, 4, 6))) == 6  # IQN's [B, N, F]: B·N rows


def test_gradient_snr_of_known_mean_and_spread():
    # two examples m + s and m - s: mean m, population std s, SNR |m| / s per parameter
    mean = {"b": jnp.array([2.0, 1.0]), "w": jnp.array([[1.0, -2.0], [0.0, 3.0]])}
    spread = {"b": jnp.array([2.0, 4.0]), "w": jnp.array([[1.0, 4.0], [1.0, 0.0]])}
    grads = jax.tree.map(lambda m, s: jnp.stack([m + s, m - s]), mean, spread)
    # w[1, 1] has no spread: SNR 3 / 1e-8; masked out, the rest average (1 + .25 + 1 + .5 + 0) / 5
    masks = {"b": None, "w": jnp.array([[True, True], [True, False]])}
    np.testing.assert_allclose(gradient_snr(grads, masks), 2.75 / 5, rtol=1e-6)
    np.testing.assert_allclose(gradient_snr(grads), (2.75 + 3e8) / 6, rtol=1e-6)
    # four examples 1, 1, 3, 3: mean 2, population std 1
    np.testing.assert_allclose(gradient_snr({"x": jnp.array([[1.0], [1.0], [3.0], [3.0]])}), 2.0)


def test_gradient_cosine_matrix_of_parallel_antiparallel_and_orthogonal_gradients():
    # v = (1, 2 | 2) over two leaves; 2v parallel, -v anti-parallel, (2, -1 | 0) orthogonal
    grads = {
        "a": jnp.array([[1.0, 2.0], [2.0, 4.0], [-1.0, -2.0], [2.0, -1.0]]),
        "b": jnp.array([[[2.0]], [[4.0]], [[-2.0]], [[0.0]]]),
    }
    expected = [[1, 1, -1, 0], [1, 1, -1, 0], [-1, -1, 1, 0], [0, 0, 0, 1]]
    np.testing.assert_allclose(gradient_cosine_matrix(grads), expected, atol=1e-6)


def test_gradient_cosine_matrix_leaves_masked_entries_out():
    grads = {"a": jnp.array([[1.0, 0.0], [1.0, 0.0]]), "b": jnp.array([[7.0], [-7.0]])}
    np.testing.assert_allclose(gradient_cosine_matrix(grads)[0, 1], (1 - 49) / 50, rtol=1e-6)
    masks = {"a": None, "b": jnp.array([False])}
    np.testing.assert_allclose(gradient_cosine_matrix(grads, masks), jnp.ones((2, 2)))
    # a zero gradient has cosine 0 with everything
    zero = {"a": jnp.array([[0.0, 0.0], [1.0, 0.0]])}
    np.testing.assert_allclose(gradient_cosine_matrix(zero), [[0, 0], [0, 1]])


def _linear_loss(params, batch):
    prediction = batch["x"] @ params["w"] + params["b"]
    return jnp.mean((prediction - batch["y"]) ** 2)


def test_per_example_gradients_equal_single_example_gradients():
    kx, ky, kw = jax.random.split(KEY, 3)
    batch = {"x": jax.random.normal(kx, (5, 3)), "y": jax.random.normal(ky, (5, 2))}
    params = {"w": jax.random.normal(kw, (3, 2)), "b": jnp.array([0.5, -1.0])}
    grads = per_example_gradients(_linear_loss, params, batch)
    assert grads["w"].shape == (5, 3, 2) and grads["b"].shape == (5, 2)
    for i in range(5):
        single = jax.grad(_linear_loss)(params, jax.tree.map(lambda x, i=i: x[i : i + 1], batch))
        for name in params:
            np.testing.assert_allclose(grads[name][i], single[name], rtol=1e-6)
    # a mean loss: the batch gradient is the mean of the per-example ones
    whole = jax.grad(_linear_loss)(params, batch)
    for name in params:
        np.testing.assert_allclose(grads[name].mean(0), whole[name], rtol=1e-5, atol=1e-6)


def test_q_statistics_by_hand():
    # values 3, 4, 0, -1: mean 1.5, variance (2.25 + 6.25 + 2.25 + 6.25) / 4; norms 5 and 1
    stats = q_statistics(jnp.array([[3.0, 4.0], [0.0, -1.0]]), jnp.array([1.0, 3.0]))
    expected = {"q_mean": 1.5, "q_variance": 4.25, "q_norm": 3.0, "q_target_variance": 1.0}
    assert set(stats) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(stats[name], value)
    scalar = q_statistics(jnp.array([-2.0, 4.0]))  # a critic's scalar Q: its norm is |Q|
    assert set(scalar) == {"q_mean", "q_variance", "q_norm"}
    np.testing.assert_allclose(scalar["q_norm"], 3.0)


def test_parameter_norm_with_and_without_a_mask():
    params = {"b": jnp.array([12.0]), "w": jnp.array([[3.0, 4.0], [100.0, 2.0]])}
    masks = {"b": None, "w": jnp.array([[True, True], [False, False]])}
    np.testing.assert_allclose(parameter_norm(params, masks), 13.0)  # sqrt(9 + 16 + 144)
    np.testing.assert_allclose(parameter_norm(params), np.sqrt(9 + 16 + 144 + 10_000 + 4))


def _mask_tree(kernel):
    return {
        "params": {
            "Dense_0": {"bias": None, "kernel": kernel},
            "head": {"bias": None, "kernel": None},
        }
    }


def test_mask_turnover_counts_newly_active_connections_per_layer():
    before = jnp.array([[True, True, False], [True, False, False]])
    after = jnp.array([[True, False, False], [True, False, True]])  # 1 of its 3 is new
    turnover = mask_turnover(_mask_tree(before), _mask_tree(after))
    assert set(turnover) == {"Dense_0", "head"}
    np.testing.assert_allclose(turnover["Dense_0"], 1 / 3)
    assert float(turnover["head"]) == 0.0  # kept dense
    assert float(mask_turnover(_mask_tree(after), _mask_tree(after))["Dense_0"]) == 0.0


def _runs(tree, n=3):
    """n different runs of `tree` (run i scaled by (-1)^i (i + 1)) and their stack."""
    runs = [jax.tree.map(lambda x, i=i: x * (i + 1) * (-1) ** i, tree) for i in range(n)]
    return runs, jax.tree.map(lambda *xs: jnp.stack(xs), *runs)


def _assert_vmapped_equals_per_run(fn, tree):
    runs, stacked = _runs(tree)
    vmapped = jax.jit(jax.vmap(fn))(stacked)
    for i, run in enumerate(runs):
        per_run = fn(run)
        jax.tree.map(
            lambda a, b, i=i: np.testing.assert_allclose(a[i], b, rtol=1e-5, atol=1e-6),
            vmapped,
            per_run,
        )


def test_each_measure_equals_per_run_when_vmapped_over_runs():
    grads = {"a": jax.random.normal(KEY, (4, 3, 2)), "b": jax.random.normal(KEY, (4, 2)) + 1.0}
    masks = {"a": jnp.array([[True, False], [False, True], [True, True]]), "b": None}
    _assert_vmapped_equals_per_run(lambda acts: dormant_fraction(acts), [DENSE, CONV])
    _assert_vmapped_equals_per_run(srank, _matrix_with_singular_values(SINGULAR))
    _assert_vmapped_equals_per_run(lambda g: gradient_snr(g, masks), grads)
    _assert_vmapped_equals_per_run(lambda g: gradient_cosine_matrix(g, masks), grads)
    _assert_vmapped_equals_per_run(lambda q: q_statistics(*q), (DENSE, DENSE[:, 0]))
    _assert_vmapped_equals_per_run(lambda p: parameter_norm(p, masks), grads)
    params = {"w": jnp.arange(6.0).reshape(3, 2), "b": jnp.ones(2)}
    batch = {"x": jnp.arange(12.0).reshape(4, 3) / 10, "y": jnp.ones((4, 2))}
    _assert_vmapped_equals_per_run(lambda p: per_example_gradients(_linear_loss, p, batch), params)
    # masks differ between runs: shift each run's kernel mask by its index
    after = jnp.array([[True, False, False], [True, False, True]])
    stacked = jnp.stack([jnp.roll(after, i) for i in range(3)])
    vmapped = jax.vmap(lambda m: mask_turnover(_mask_tree(after), _mask_tree(m)))(stacked)
    for i in range(3):
        per_run = mask_turnover(_mask_tree(after), _mask_tree(stacked[i]))
        np.testing.assert_allclose(vmapped["Dense_0"][i], per_run["Dense_0"])


# network, its call inputs, the expected activation shapes in forward order (batch 2)
IMPALA_STACKS = [(2, 18, 18, 16)] * 4 + [(2, 9, 9, 32)] * 4 + [(2, 5, 5, 32)] * 4
NETWORKS = {
    "mlp": (nets.make_q_network("mlp", 3, hidden=(7, 5)), ((2, 4),), [(2, 7), (2, 5)]),
    "nature_cnn": (
        nets.make_q_network("nature_cnn", 3),
        ((2, 36, 36, 4),),  # VALID: 36 -> 8 -> 3 -> 1
        [(2, 8, 8, 32), (2, 3, 3, 64), (2, 1, 1, 64), (2, 512)],
    ),
    "impala": (  # SAME max-pools: 36 -> 18 -> 9 -> 5; two ReLUs per block, two blocks per stack
        nets.make_q_network("impala", 3),
        ((2, 36, 36, 4),),
        [*IMPALA_STACKS, (2, 256)],
    ),
    "minatar_cnn": (
        nets.make_q_network("minatar_cnn", 3),
        ((2, 10, 10, 4),),
        [(2, 8, 8, 16), (2, 128)],
    ),
    "iqn_mlp": (
        nets.make_q_network("mlp", 3, hidden=(7, 5), quantile_embedding_dim=4),
        ((2, 4), (2, 6)),
        [(2, 7), (2, 5)],
    ),
    "iqn_nature_cnn": (
        nets.make_q_network("nature_cnn", 3, quantile_embedding_dim=4),
        ((2, 36, 36, 4), (2, 6)),
        [(2, 8, 8, 32), (2, 3, 3, 64), (2, 1, 1, 64), (2, 6, 512)],
    ),
    "gaussian_actor": (GaussianActor(2, hidden=(6, 5)), ((2, 3),), [(2, 6), (2, 5)]),
    "twin_critic": (TwinCritic(hidden=(6, 5)), ((2, 3), (2, 2)), [(2, 6), (2, 5)] * 2),
}


def _inputs(shapes):
    keys = jax.random.split(jax.random.key(3), len(shapes))
    return tuple(jax.random.uniform(k, s) for k, s in zip(keys, shapes, strict=True))


@pytest.mark.parametrize("name", list(NETWORKS))
def test_hidden_activations_shapes_and_outputs_unchanged(name):
    network, input_shapes, expected = NETWORKS[name]
    inputs = _inputs(input_shapes)
    variables = network.init(KEY, *inputs)
    assert set(variables) == {"params"}  # recording adds nothing to init
    activations = jax.jit(lambda v: hidden_activations(network, v, *inputs))(variables)
    assert [a.shape for a in activations] == expected
    # the output with recording on is the output of a plain apply
    plain = network.apply(variables, *inputs)
    recorded, _ = network.apply(variables, *inputs, mutable=["intermediates"])
    jax.tree.map(np.testing.assert_array_equal, recorded, plain)
    # each recorded activation is a ReLU output
    assert all(float(a.min()) >= 0.0 for a in activations)


@pytest.mark.parametrize("name", ["mlp", "nature_cnn", "impala", "minatar_cnn", "iqn_nature_cnn"])
def test_last_hidden_activation_is_what_the_q_head_reads(name):
    network, input_shapes, _ = NETWORKS[name]
    inputs = _inputs(input_shapes)
    variables = network.init(KEY, *inputs)
    features = hidden_activations(network, variables, *inputs)[-1]
    head = variables["params"]["head"]
    np.testing.assert_allclose(
        features @ head["kernel"] + head["bias"],
        network.apply(variables, *inputs),
        rtol=2e-5,
        atol=1e-5,
    )


def test_hidden_activations_vmapped_over_runs():
    network, input_shapes, _ = NETWORKS["impala"]
    inputs = _inputs(input_shapes)
    runs = [network.init(jax.random.key(i), *inputs) for i in range(2)]
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *runs)
    vmapped = jax.vmap(lambda v: hidden_activations(network, v, *inputs))(stacked)
    for i, run in enumerate(runs):
        for got, want in zip(vmapped, hidden_activations(network, run, *inputs), strict=True):
            np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-6)
