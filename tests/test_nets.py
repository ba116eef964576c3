"""Q-networks: hand-computed parameter counts and shapes, layer names and order as the sparsity
engine sees them, dueling/C51 heads against the sub-layers, and parameter-matched widths."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sparserl.nets as nets
import sparserl.sparsity as sp

KEY = jax.random.key(0)


def _shapes(net, obs_shape):
    """Param shapes without computing any weights (a jax transform: dict keys come back sorted)."""
    return jax.eval_shape(net.init, KEY, jnp.zeros((1, *obs_shape)))


def _count(net, obs_shape):
    return nets.parameter_count(_shapes(net, obs_shape))


def _ordered_kernel_shapes(net, obs_shape):
    """`sp.kernel_shapes` of the raw `init` output (creation order), read while tracing."""
    seen = {}

    def init(key, obs):
        params = net.init(key, obs)
        seen.update(sp.kernel_shapes(params))
        return params

    jax.eval_shape(init, KEY, jnp.zeros((1, *obs_shape)))
    return seen


def _init(net, obs):
    return jax.jit(net.init)(KEY, obs)


@pytest.mark.parametrize(
    ("n", "width", "units"),
    [(512, 1.0, 512), (512, 0.1, 51), (16, 3.0, 48), (10, 0.25, 3), (10, 0.35, 4), (8, 1e-3, 1)],
)
def test_scale_units_rounds_half_up_with_at_least_one(n, width, units):
    assert nets.scale_units(n, width) == units


def test_mlp_parameter_count_and_layer_order():
    net = nets.make_q_network("mlp", 2)
    assert _count(net, (4,)) == (4 * 512 + 512) + (512 * 512 + 512) + (512 * 2 + 2) == 266_242
    shapes = _ordered_kernel_shapes(net, (4,))
    assert list(shapes.items()) == [
        ("encoder/dense_0", (4, 512)),
        ("encoder/dense_1", (512, 512)),
        ("head", (512, 2)),
    ]


def test_mlp_flattens_trailing_dims_and_takes_hidden():
    net = nets.make_q_network("mlp", 3, hidden=(7,))
    assert jax.eval_shape(net.init_with_output, KEY, jnp.ones((5, 2, 3)))[0].shape == (5, 3)
    assert _ordered_kernel_shapes(net, (2, 3)) == {"encoder/dense_0": (6, 7), "head": (7, 3)}


def test_nature_cnn_parameter_count_on_atari_frames():
    # VALID convs: 84 -> (84-8)/4+1 = 20 -> (20-4)/2+1 = 9 -> 9-3+1 = 7
    expected = (
        (8 * 8 * 4 * 32 + 32)
        + (4 * 4 * 32 * 64 + 64)
        + (3 * 3 * 64 * 64 + 64)
        + (7 * 7 * 64 * 512 + 512)
        + (512 * 6 + 6)
    )
    assert expected == 1_687_206
    shapes = _shapes(nets.make_q_network("nature_cnn", 6), (84, 84, 4))
    assert nets.parameter_count(shapes) == expected
    assert shapes["params"]["encoder"]["dense"]["kernel"].shape == (3136, 512)


IMPALA_LAYERS = [
    ("encoder/stack_0/conv", (3, 3, 4, 16)),
    *[(f"encoder/stack_0/block_{b}/conv_{c}", (3, 3, 16, 16)) for b in (0, 1) for c in (0, 1)],
    ("encoder/stack_1/conv", (3, 3, 16, 32)),
    *[(f"encoder/stack_1/block_{b}/conv_{c}", (3, 3, 32, 32)) for b in (0, 1) for c in (0, 1)],
    ("encoder/stack_2/conv", (3, 3, 32, 32)),
    *[(f"encoder/stack_2/block_{b}/conv_{c}", (3, 3, 32, 32)) for b in (0, 1) for c in (0, 1)],
    ("encoder/dense", (11 * 11 * 32, 256)),  # SAME max-pools with stride 2: 84 -> 42 -> 21 -> 11
    ("head", (256, 6)),
]


def test_impala_kernel_shapes_in_creation_order_end_with_head():
    net = nets.make_q_network("impala", 6)
    assert list(_ordered_kernel_shapes(net, (84, 84, 4)).items()) == IMPALA_LAYERS
    biases = sum(shape[-1] for _, shape in IMPALA_LAYERS)
    kernels = sum(int(np.prod(shape)) for _, shape in IMPALA_LAYERS)
    assert _count(net, (84, 84, 4)) == kernels + biases == 1_090_774


def _impala_count_by_hand(c1, c2, c3, hidden, actions=6):
    """Per stack on `cin` channels: a 3x3 conv cin -> c, then two residual blocks of two 3x3
    convs c -> c (9 cin c weights + c biases each); SAME 3x3 max-pools with stride 2 take 84
    to 42, 21 and 11, so the dense layer sees 11 x 11 x c3 features; then the head."""

    def stack(cin, c):
        return (9 * cin * c + c) + 4 * (9 * c * c + c)

    dense = 11 * 11 * c3 * hidden + hidden
    return stack(4, c1) + stack(c1, c2) + stack(c2, c3) + dense + (hidden * actions + actions)


# Channels 16/32/32 and 256 units times the width, rounded half up (widths 1, 3, 5:
# Obando-Ceron et al. 2024, Sec. 4), on 84x84x4 frames with Pong's 6 actions.
@pytest.mark.parametrize(
    ("width", "channels", "hidden", "total"),
    [
        (1, (16, 32, 32), 256, 1_090_774),
        (3, (48, 96, 96), 768, 9_800_310),
        (5, (80, 160, 160), 1280, 27_213_846),
    ],
)
def test_impala_parameter_count_at_widths_one_three_five(width, channels, hidden, total):
    assert _impala_count_by_hand(*channels, hidden) == total
    assert _count(nets.make_q_network("impala", 6, width=width), (84, 84, 4)) == total


def test_impala_width_three_scales_every_layer():
    shapes = sp.kernel_shapes(_shapes(nets.make_q_network("impala", 6, width=3), (84, 84, 4)))
    assert shapes["encoder/stack_0/conv"] == (3, 3, 4, 48)
    assert shapes["encoder/stack_1/block_1/conv_1"] == (3, 3, 96, 96)
    assert shapes["encoder/stack_2/conv"] == (3, 3, 96, 96)
    assert shapes["encoder/dense"] == (11 * 11 * 96, 768)
    assert shapes["head"] == (768, 6)


def test_impala_channels_are_configurable():
    net = nets.QNetwork(nets.ImpalaResNet(channels=(8,), dense=5), 2)
    shapes = sp.kernel_shapes(_shapes(net, (8, 8, 3)))
    assert shapes["encoder/stack_0/conv"] == (3, 3, 3, 8)
    assert shapes["encoder/dense"] == (4 * 4 * 8, 5)


def test_minatar_cnn_parameter_count():
    # VALID 3x3 conv: 10x10 -> 8x8x16 = 1024 features
    expected = (3 * 3 * 4 * 16 + 16) + (8 * 8 * 16 * 128 + 128) + (128 * 6 + 6)
    assert expected == 132_566
    assert _count(nets.make_q_network("minatar_cnn", 6), (10, 10, 4)) == expected


def _dueling_by_hand(net, params, obs):
    p = params["params"]
    features = nets.MLP(hidden=(16,)).apply({"params": p["encoder"]}, obs)
    streams = features @ p["head"]["kernel"] + p["head"]["bias"]
    streams = streams.reshape(len(obs), 1 + net.num_actions, net.num_atoms)
    value, advantage = streams[:, :1], streams[:, 1:]
    return value + advantage - advantage.mean(axis=1, keepdims=True)


@pytest.mark.parametrize("num_atoms", [1, 51])
def test_dueling_combines_value_and_centred_advantage(num_atoms):
    net = nets.make_q_network("mlp", 3, hidden=(16,), num_atoms=num_atoms, dueling=True)
    obs = jax.random.uniform(jax.random.key(1), (4, 5))
    params = _init(net, obs[:1])
    out = jax.jit(net.apply)(params, obs)
    expected = jax.jit(_dueling_by_hand, static_argnums=0)(net, params, obs)
    assert out.shape == ((4, 3) if num_atoms == 1 else (4, 3, 51))
    np.testing.assert_allclose(out, expected.reshape(out.shape), rtol=1e-5, atol=1e-5)
    assert list(_ordered_kernel_shapes(net, (5,)).items()) == [
        ("encoder/dense_0", (5, 16)),
        ("head", (16, (1 + 3) * num_atoms)),  # value stream and 3 advantages in one layer
    ]


def test_c51_returns_atom_logits_per_action():
    net = nets.make_q_network("mlp", 2, num_atoms=51, hidden=(8,))
    assert jax.eval_shape(net.init_with_output, KEY, jnp.ones((5, 4)))[0].shape == (5, 2, 51)
    assert list(_ordered_kernel_shapes(net, (4,)).items())[-1] == ("head", (8, 2 * 51))


def test_input_scale_multiplies_the_cast_observation():
    frames = jax.random.randint(jax.random.key(2), (2, 3, 3), 0, 256).astype(jnp.uint8)
    scaled = nets.make_q_network("mlp", 3, hidden=(16,), input_scale=1 / 255)
    params = _init(scaled, frames[:1])
    plain = nets.make_q_network("mlp", 3, hidden=(16,))
    both = jax.jit(lambda p, x: (scaled.apply(p, x), plain.apply(p, x / 255.0)))(params, frames)
    np.testing.assert_allclose(*both, rtol=1e-5, atol=1e-6)


def test_unknown_torso_names_the_value_and_the_choices():
    with pytest.raises(ValueError, match="resnet") as info:
        nets.make_q_network("resnet", 2)
    assert all(name in str(info.value) for name in nets.TORSOS)


@pytest.mark.parametrize("width", [0, -0.5])
def test_non_positive_width_is_rejected(width):
    with pytest.raises(ValueError, match=f"width must be > 0, got {width}"):
        nets.make_q_network("mlp", 2, width=width)


def test_hidden_is_only_for_the_mlp():
    with pytest.raises(ValueError, match="nature_cnn"):
        nets.make_q_network("nature_cnn", 2, hidden=(64,))


def test_width_search_on_a_toy_count():
    def hundred(width):
        return nets.scale_units(100, width)

    # 37 units for widths in [0.365, 0.375): the middle of that step is returned
    assert nets.width_for_parameter_count(hundred, 37) == pytest.approx(0.37)

    def tens(width):
        return 10 * nets.scale_units(10, width)  # counts 10, 20, 30, ...; 30 for [0.25, 0.35)

    assert nets.width_for_parameter_count(tens, 34) == pytest.approx(0.3)
    assert nets.width_for_parameter_count(tens, 35) == pytest.approx(0.3)  # tie: smaller count
    assert nets.width_for_parameter_count(tens, 36) == pytest.approx(0.4)
    assert nets.width_for_parameter_count(tens, 10) == pytest.approx((1e-3 + 0.15) / 2)


@pytest.mark.parametrize("target", [5, 10**6])
def test_width_search_rejects_unreachable_targets(target):
    def tens(width):
        return 10 * nets.scale_units(10, width)

    with pytest.raises(ValueError, match=f"target {target} is outside the counts 10 "):
        nets.width_for_parameter_count(tens, target)


def test_matched_width_for_a_tenth_of_the_cartpole_mlp():
    dense = 266_242
    target = round(0.1 * dense)
    width = nets.matched_width(
        lambda w: nets.make_q_network("mlp", 2, width=w), (jnp.zeros((1, 4)),), target
    )

    def count(units):  # h^2 + 8h + 2 for hidden (h, h), obs 4, 2 actions
        return _count(nets.make_q_network("mlp", 2, hidden=(units, units)), (4,))

    units = nets.scale_units(512, width)
    assert units == 159
    assert _count(nets.make_q_network("mlp", 2, width=width), (4,)) == count(159) == 26_555
    assert abs(count(159) - target) / target < 0.01
    assert abs(count(158) - target) > abs(count(159) - target)
    assert abs(count(160) - target) > abs(count(159) - target)


def test_rigl_masks_the_q_network_layers_to_their_targets():
    net = nets.make_q_network("mlp", 3, hidden=(32, 32), dueling=True)
    params = _init(net, jnp.zeros((1, 4)))
    method = sp.make_method("rigl", sparsity=0.9, total_steps=1000)
    counts = method.kept_counts(params)
    sparse_params, state = jax.jit(method.init)(params, jax.random.key(3), counts)
    expected = sp.mask_counts(counts)  # layer name -> kept count, for every kernel
    assert set(expected) == {"encoder/dense_0", "encoder/dense_1", "head"}
    assert sp.mask_counts(state.masks) == expected
    assert sp.nonzero_counts(sparse_params) == expected
    kernels = 4 * 32 + 32 * 32 + 32 * (1 + 3)
    assert sum(expected.values()) == pytest.approx(0.1 * kernels, abs=len(expected))
    # the output layer is last in creation order and in the sorted order of transformed trees
    keep_head = sp.make_method("rigl", sparsity=0.9, total_steps=1000, dense_output=True)
    ordered = _ordered_kernel_shapes(net, (4,))
    assert keep_head.sparse_layers(ordered) == ["encoder/dense_0", "encoder/dense_1"]
    assert list(sp.kernel_shapes(jax.jit(lambda p: p)(params)))[-1] == "head"
