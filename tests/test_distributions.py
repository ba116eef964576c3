"""Per-layer densities and exact counts against hand-computed and paper values."""

import pytest

from sparserl.sparsity import SparsityConfigError, layer_densities, layer_nonzeros

MLP_SHAPES = {"a": (4, 256), "b": (256, 256), "c": (256, 2)}


def test_uniform_counts_round_each_layer():
    # 0.1 * 1024 = 102.4 -> 102; 0.1 * 65536 = 6553.6 -> 6554; 0.1 * 512 = 51.2 -> 51
    assert layer_nonzeros(MLP_SHAPES, 0.9, "uniform") == {"a": 102, "b": 6554, "c": 51}
    assert layer_densities(MLP_SHAPES, 0.9, "uniform") == pytest.approx(
        {"a": 0.1, "b": 0.1, "c": 0.1}
    )


def test_erk_saturates_small_layers_and_resolves_the_rest():
    # Raw ERK scores: a 260/1024, b 512/65536, c 258/512. eps = 6707.2/1030 makes c and then a
    # exceed density 1, so both become dense; b gets the rest of the 10% budget:
    # 0.1 * 67072 - 1024 - 512 = 5171.2 -> 5171 (hand computed).
    counts = layer_nonzeros(MLP_SHAPES, 0.9, "erk")
    assert counts == {"a": 1024, "b": 5171, "c": 512}
    densities = layer_densities(MLP_SHAPES, 0.9)
    assert densities["a"] == densities["c"] == 1.0
    assert densities["b"] == pytest.approx(5171.2 / 65536)


def test_erk_without_saturation_is_proportional_to_sum_over_product():
    shapes = {"x": (100, 100), "y": (100, 300)}
    # scores 200/10000 = 0.02 and 400/30000 = 0.01333; eps * (200 + 400) = 0.5 * 40000
    d = layer_densities(shapes, 0.5, "erk")
    eps = 20000 / 600
    assert d == pytest.approx({"x": eps * 0.02, "y": eps * 400 / 30000})
    assert layer_nonzeros(shapes, 0.5, "erk") == {"x": 6667, "y": 13333}


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
    assert counts == {"a": 102, "b": 6554, "c": 512}


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
