"""Target-network policies and FLOP accounting."""

import jax
import numpy as np
import pytest

import sparserl.sparsity as sp
from sparserl.experiment import TrainSpec, agent_budget, resolve


def _online_target(params, method):
    online, st = method.init(params, jax.random.key(0))
    target, _ = method.init(params, jax.random.key(7))
    return online, target, st


def test_copy_mask_target_has_the_online_mask(params):
    method = sp.SET(sparsity=0.9, total_steps=10)
    online, target, st = _online_target(params, method)
    new = method.sync_target(st, online, target, 0.005)
    assert sp.mask_violations(new, st.masks) == 0
    k_on, k_tg, k_new = (
        np.asarray(t["params"]["Dense_1"]["kernel"]) for t in (online, target, new)
    )
    mask = np.asarray(st.masks["params"]["Dense_1"]["kernel"])
    np.testing.assert_allclose(k_new, np.where(mask, 0.005 * k_on + 0.995 * k_tg, 0), rtol=1e-6)


def test_prune_magnitude_target_keeps_the_online_count(params):
    method = sp.DynamicSparse(sparsity=0.8)
    assert method.target_policy == "prune_magnitude"
    online, target, st = _online_target(params, method)  # different random topologies
    counts = sp.mask_counts(st.masks)
    for _ in range(3):
        target = method.sync_target(st, online, target, 0.005)
        got = sp.nonzero_counts(target)
        assert {n: got[n] for n in counts} == counts
    # the kept target weights are the largest-magnitude ones of the Polyak average
    mixed = sp.polyak(online, target, 0.005)
    k = np.abs(
        np.asarray(
            sp.sync_target("prune_magnitude", online, target, st.masks, 0.005)["params"]["Dense_1"][
                "kernel"
            ]
        )
    )
    m = np.abs(np.asarray(mixed["params"]["Dense_1"]["kernel"]))
    assert m[k > 0].min() >= m[k == 0].max()


def test_hard_copy_is_exact(params):
    method = sp.Static(sparsity=0.5)
    online, target, st = _online_target(params, method)
    new = method.sync_target(st, online, target, 1.0)
    for a, b in zip(jax.tree.leaves(online), jax.tree.leaves(new), strict=True):
        np.testing.assert_array_equal(a, b)


def test_unknown_target_policy():
    with pytest.raises(sp.SparsityConfigError, match=r"'lazy'.*copy_mask.*prune_magnitude"):
        sp.Static(target_policy="lazy")


SHAPES = {"a": (4, 256), "b": (256, 256), "c": (256, 2)}  # ERK 0.9: 1024, 5173, 512 weights


def test_inference_and_training_flops_by_hand():
    dense = 2 * (1024 + 65536 + 512)  # 134144
    sparse = 2 * (1024 + 5173 + 512)  # 13418
    assert sp.inference_flops(sp.Dense().layer_counts(SHAPES)) == dense
    assert sp.Dense().training_flops(SHAPES) == 3 * dense
    assert sp.Static(sparsity=0.9).training_flops(SHAPES) == 3 * sparse
    assert sp.SET(sparsity=0.9, total_steps=10).training_flops(SHAPES) == 3 * sparse
    rigl = sp.RigL(sparsity=0.9, total_steps=10, update_interval=100).training_flops(SHAPES)
    assert rigl == pytest.approx((3 * sparse * 100 + 2 * sparse + dense) / 101)


def test_conv_flops_scale_with_output_positions():
    counts = {"conv": 3 * 3 * 4 * 8, "fc": 100}
    assert sp.inference_flops(counts, {"conv": 20 * 20}) == 2 * 288 * 400 + 2 * 100


def test_prune_training_flops_average_the_cubic_schedule():
    # uniform 95%: dense for 20%, cubic for 60% (mean density 1 - 0.95 * 3/4), 5% for 20%.
    method = sp.Prune(sparsity=0.95, distribution="uniform", total_steps=100_000, update_interval=1)
    dense = sp.Dense().training_flops(SHAPES)
    expected = 0.2 + 0.6 * (1 - 0.95 * 0.75) + 0.2 * 0.05
    assert method.training_flops(SHAPES) / dense == pytest.approx(expected, abs=2e-3)


def test_budget_table_of_ds_td3_actor():
    method = sp.DynamicSparse(er_lambda={"Dense_0": 7, "Dense_1": 64})
    shapes = {"Dense_0": (17, 256), "Dense_1": (256, 256), "Dense_2": (256, 6)}
    table = sp.budget_table(method, shapes, other_params=256 + 256 + 6)
    assert [row["nonzeros"] for row in table["layers"]] == [1911, 32768, 1536]
    assert table["weights"] == 36215 and table["parameters"] == 36215 + 518
    assert method.sparsity is None and sp.Static().sparsity == 0.9  # lambdas alone, else 90%
    # A level scales the lambdas: 17x256 and 256x256 weigh 7 x 273 = 1,911 and 64 x 512 =
    # 32,768; at 0.9 the budgets are 436 + 6,554 = 6,990, eps = 6990/34679: 385.2 kept -> 3,966
    # zeros -> 386, 6,604.8 -> 58,931 zeros -> 6,605.
    scaled = sp.DynamicSparse(er_lambda={"Dense_0": 7, "Dense_1": 64}, sparsity=0.9)
    assert scaled.layer_counts(shapes) == {"Dense_0": 386, "Dense_1": 6605, "Dense_2": 1536}


def test_lottery_training_flops_count_the_prune_run_and_the_rewind():
    # DQN on CartPole with a 4-32-32-2 Q-network (1,216 kernel weights), uniform 50%: 64 +
    # 512 + 32 = 608 kept. 2,000 steps at one update per 4 steps, the first 124 iterations
    # filling the replay: 376 updates per run. Its Prune run prunes at once after update 1
    # (start 0, end one step): 1 update dense, 375 at 608 weights, 3 x 2 FLOPs per weight;
    # the rewind then trains 608 weights for its 376 updates.
    options = {"distribution": "uniform", "update_interval": 1}
    spec = TrainSpec(
        "dqn",
        "CartPole-v1",
        method="lottery",
        sparsities=(0.5,),
        steps=2000,
        agent_options={"hidden": (32, 32)},
        method_options={**options, "start_fraction": 0.0, "end_fraction": 1e-9},
    )
    resolved = resolve(spec)
    assert resolved.total_updates == 376
    table = agent_budget(resolved, 0.5)
    prune = 6 * (1216 + 375 * 608) / 376  # 3,657.70 per update
    rewind = 6 * 608  # 3,648
    assert table["phase_training_flops"] == pytest.approx([prune, rewind])
    assert table["training_flops"] == pytest.approx(prune + rewind)  # was the rewind alone
    assert table["weights"] == 608 and table["dense_training_flops"] == 6 * 1216
