"""Learning on small budgets: thresholds a broken agent cannot reach (marked slow).

Random policies score ~22 on CartPole-v1, -500 on Acrobot-v1, -200 on MountainCar-v0 and
~0.5 on Breakout-MinAtar; a diverged DQN scores ~9 on CartPole. Full-budget results are in
the README.
"""

import numpy as np
import pytest

from sparserl.train import TrainSpec, train

pytestmark = pytest.mark.slow


def mean_final_return(**spec) -> float:
    results = train(TrainSpec(**spec))
    return float(np.mean([r.summary["final_return"] for r in results]))


def test_dense_dqn_learns_cartpole():
    score = mean_final_return(
        agent="dqn", env="CartPole-v1", seeds=3, steps=40_000, eval_interval=4000
    )
    assert score >= 150


@pytest.mark.parametrize("method", ["prune", "set", "rigl"])
def test_90_percent_sparse_dqn_learns_cartpole(method):
    score = mean_final_return(
        agent="dqn",
        env="CartPole-v1",
        method=method,
        sparsities=(0.9,),
        seeds=2,
        steps=40_000,
        eval_interval=4000,
    )
    assert score >= 100


def test_rainbow_learns_cartpole():
    score = mean_final_return(
        agent="rainbow", env="CartPole-v1", seeds=2, steps=20_000, eval_interval=2000
    )
    assert score >= 200
