"""Per-layer densities and exact counts against hand-computed and paper values."""

import pytest

from sparserl.sparsity import SparsityConfigError, layer_densities, layer_nonzeros

MLP_SHAPES = {"a": (4, 256), "b": (256, 256), "c": (256, 2)}


def test_uniform_counts_floor_each_layers_zeros():
    # RigL's rule: zeros = floor(0.9 * size). 921.6 -> 921 zeros, 1024 - 921 = 103 kept;
    # 58982.4 -> 58982, 6554 kept; 460.8 -> 460, 52 kept (rounding the kept 102.4 and 51.2
    # would give 102 and 51).
    assert layer_nonzeros(MLP_SHAPES, 0.9, "uniform") == {"a": 103, "b": 6554, "c": 52}
    assert layer_densities(MLP_SHAPES, 0.9, "uniform") == pytest.approx(
        {"a": 0.1, "b": 0.1, "c": 0.1}
    )


def test_erk_saturates_small_layers_and_resolves_the_rest():
    # Raw ERK scores: a 260/1024, b 512/65536, c 258/512. Per-layer budgets (RigL: size -
    # floor(0.9 size)) are 103 + 6554 + 52 = 6709 kept; eps = 6709/1030 makes c and then a exceed
    # density 1, so both become dense and b keeps the rest: 6709 - 1024 - 512 = 5173 (= 6554 -
    # 921 - 460, the zeros a and c give up). b's sparsity 60363/65536 is exact: 5173 kept.
    # (The old rule, round(0.1 * 67072 - 1024 - 512) = round(5171.2), gave 5171.)
    counts = layer_nonzeros(MLP_SHAPES, 0.9, "erk")
    assert counts == {"a": 1024, "b": 5173, "c": 512}
    densities = layer_densities(MLP_SHAPES, 0.9)
    assert densities["a"] == densities["c"] == 1.0
    assert densities["b"] == pytest.approx(5173 / 65536)


def test_erk_without_saturation_is_proportional_to_sum_over_product():
    shapes = {"x": (100, 100), "y": (100, 300)}
    # scores 200/10000 = 0.02 and 400/30000 = 0.01333; eps * (200 + 400) = 0.5 * 40000.
    # x: density 2/3, 3333.33 zeros -> 3333, 6667 kept; y: density 4/9, 16666.67 -> 16666 zeros,
    # 13334 kept (rounding 13333.3 kept weights gave 13333).
    d = layer_densities(shapes, 0.5, "erk")
    eps = 20000 / 600
    assert d == pytest.approx({"x": eps * 0.02, "y": eps * 400 / 30000})
    assert layer_nonzeros(shapes, 0.5, "erk") == {"x": 6667, "y": 13334}


def test_erk_counts_conv_kernel_dims():
    shapes = {"conv": (3, 3, 32, 64), "fc": (1024, 10)}
    d = layer_densities(shapes, 0.9, "erk")
    # ERK score of the conv kernel includes kh and kw: (3+3+32+64)/(3*3*32*64)
    ratio = ((3 + 3 + 32 + 64) / (3 * 3 * 32 * 64)) / ((1024 + 10) / (1024 * 10))
    assert d["conv"] / d["fc"] == pytest.approx(ratio)


def test_er_lambda_gives_lambda_times_in_plus_out_connections():
    # DS-TD3 HalfCheetah actor (Sokar et al. 2022): lambda1 = 7, lambda2 = 64, output dense.
    shapes = {"Dense_0": (17, 256), "Dense_1": (256, 256), "Dense_2": (256, 6)}
    counts = layer_nonzeros(
        shapes, distribution="er", er_lambda={"Dense_0": 7, "Dense_1": 64}, dense_layers=["Dense_2"]
    )
    # 0.4391...*4352 must round to 1911 (7 * 273), not truncate to 1910.
    assert counts == {"Dense_0": 1911, "Dense_1": 32768, "Dense_2": 1536}


def test_ds_td3_halfcheetah_connection_counts_match_paper_table_2():
    actor = {"Dense_0": (17, 256), "Dense_1": (256, 256), "Dense_2": (256, 6)}
    critic = {"Dense_0": (23, 256), "Dense_1": (256, 256), "Dense_2": (256, 1)}
    lam = {"Dense_0": 7, "Dense_1": 64}

    def total(shapes):
        return sum(
            layer_nonzeros(
                shapes, distribution="er", er_lambda=lam, dense_layers=["Dense_2"]
            ).values()
        )

    dense = sum(layer_nonzeros(actor, 0.0).values()) + 2 * sum(layer_nonzeros(critic, 0.0).values())
    assert dense == 214784
    assert total(actor) + 2 * total(critic) == 106169


def test_dense_layers_are_outside_the_budget():
    counts = layer_nonzeros(MLP_SHAPES, 0.9, "uniform", dense_layers=["c"])
    assert counts == {"a": 103, "b": 6554, "c": 512}


def test_er_with_sparsity_solves_a_single_scale():
    shapes = {"x": (100, 100), "y": (100, 300)}
    d = layer_densities(shapes, 0.5, "er")
    assert d["x"] / d["y"] == pytest.approx((200 / 10000) / (400 / 30000))


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, "0.5", None, True])
def test_sparsity_outside_range_is_refused(bad):
    with pytest.raises(SparsityConfigError, match=r"sparsity"):
        layer_nonzeros(MLP_SHAPES, bad, "erk")


def test_unknown_distribution_names_the_allowed_ones():
    with pytest.raises(SparsityConfigError, match=r"'erdos'.*uniform.*erk.*er"):
        layer_densities(MLP_SHAPES, 0.5, "erdos")


def test_lambda_larger_than_the_layer_is_refused():
    # 256 x 2: at most 256*2/258 = 1.984 connections per (n_in + n_out)
    with pytest.raises(SparsityConfigError, match=r"er_lambda\['c'\].*\(0, 1.984\]"):
        layer_nonzeros(MLP_SHAPES, distribution="er", er_lambda={"a": 1, "b": 1, "c": 3})


def test_override_of_a_missing_layer_lists_the_layers():
    with pytest.raises(SparsityConfigError, match=r"\['d'\].*\['a', 'b', 'c'\]"):
        layer_nonzeros(MLP_SHAPES, 0.5, dense_layers=["d"])
    with pytest.raises(SparsityConfigError, match=r"\['zz'\]"):
        layer_nonzeros(MLP_SHAPES, distribution="er", er_lambda={"zz": 1.0})


def test_er_lambda_missing_for_a_sparse_layer():
    with pytest.raises(SparsityConfigError, match=r"no lambda for layer\(s\) \['c'\]"):
        layer_nonzeros(MLP_SHAPES, distribution="er", er_lambda={"a": 1, "b": 1})


NATURE_CNN_PONG = {
    "conv_0": (8, 8, 4, 32),
    "conv_1": (4, 4, 32, 64),
    "conv_2": (3, 3, 64, 64),
    "dense": (3136, 512),
    "head": (512, 6),
}


def test_erk_on_the_nature_cnn_follows_rigl_counting():
    # ERK score x size = sum(shape): 52, 104, 134, 3648, 518. Per-layer budgets at 90%,
    # size - floor(0.9 size): 820, 3277, 3687, 160564, 308 = 168,656 (RigL sums these; a global
    # 0.1 x 1,686,528 = 168,652.8 lost the 3.2 that the floors give back). eps = 168656/4456
    # puts the head (518/3072) over density 1: it turns dense and gives up its 2,764 zeros, so
    # the rest share 168,656 - 308 - 2,764 = 165,584 over 52 + 104 + 134 + 3648 = 3,938, and
    # the densest then, conv_0, is at 52 eps/8192 = 0.267.
    # dense: 165584 x 3648/3938 = 153,390.16 kept -> floor(1,452,241.84) = 1,452,241 zeros ->
    # 153,391 kept (rounding a global budget gave 153,387); conv_0: 2,186.48 -> 6,005 zeros ->
    # 2,187 (was 2,186); conv_1: 4,372.97 -> 4,373; conv_2: 5,634.40 -> 5,635 (was 5,634).
    counts = layer_nonzeros(NATURE_CNN_PONG, 0.9, "erk")
    assert counts == {"conv_0": 2187, "conv_1": 4373, "conv_2": 5635, "dense": 153391, "head": 3072}


def test_counts_floor_the_zeros_not_round_the_kept():
    # 13 weights at 90%: 11.7 zeros -> 11, so 2 kept (rounding 1.3 kept gave 1); 10 at 90%:
    # 9 zeros, 1 kept; 7 at 90%: 6.3 -> 6 zeros, 1 kept; 7 at 50%: 3.5 -> 3 zeros, 4 kept.
    shapes = {"a": (13, 1), "b": (10, 1), "c": (7, 1)}
    assert layer_nonzeros(shapes, 0.9, "uniform") == {"a": 2, "b": 1, "c": 1}
    assert layer_nonzeros({"c": (7, 1)}, 0.5, "uniform") == {"c": 4}


def test_er_lambdas_with_a_sparsity_are_scaled_together():
    # lambdas 1 and 8 on 3x256 and 256x256 are weights 1 x 259 and 8 x 512 = 4,096. At 0.9 the
    # budgets are 77 + 6,554 = 6,631, eps = 6631/4355: 394.36 kept -> 373 zeros -> 395, and
    # 6,236.64 -> 59,299 zeros -> 6,237; the ratio of the densities stays lambda's.
    shapes = {"a": (3, 256), "b": (256, 256)}
    lam = {"a": 1.0, "b": 8.0}
    assert layer_nonzeros(shapes, 0.9, "er", er_lambda=lam) == {"a": 395, "b": 6237}
    d = layer_densities(shapes, 0.9, "er", er_lambda=lam)
    alone = layer_densities(shapes, distribution="er", er_lambda=lam)
    assert d["a"] / d["b"] == pytest.approx(alone["a"] / alone["b"])
    # too large alone (3 x 256 / 259 = 2.97 at most), fine as a weight: the layer saturates
    assert layer_nonzeros(shapes, 0.5, "er", er_lambda={"a": 10.0, "b": 8.0})["a"] == 768
