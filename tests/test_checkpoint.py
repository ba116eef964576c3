"""Group checkpoints: a JAX-env group resumed from a checkpoint gives exactly the summaries
and metrics of an uninterrupted one; a checkpoint of another spec is never restored."""

import dataclasses

import numpy as np
import pytest

from sparserl.experiment import TrainSpec
from sparserl.train import train
from sparserl.train.checkpoint import Checkpointer, CheckpointError

SPEC = TrainSpec(
    agent="td3",
    env="Pendulum-v1",
    method="rigl",
    sparsities=(0.8,),
    seeds=2,
    steps=300,
    eval_interval=100,
    eval_episodes=1,
    agent_options={"hidden": (16, 16), "learning_starts": 50, "batch_size": 8},
)


class Stop(Exception):
    """Stands for a kill after the second chunk."""


def _stopping_progress(steps, runs, label):
    class Line:
        def update(self, done, latest_return):
            if done == 200:
                raise Stop

    return Line()


def _without_wall_clock(results):
    return [
        (
            {k: v for k, v in r.summary.items() if k != "group_wall_s"},
            [{k: v for k, v in row.items() if k != "wall_s"} for row in r.metrics],
        )
        for r in results
    ]


@pytest.mark.slow
def test_jax_env_group_resumes_exactly(tmp_path):
    reference = train(SPEC)
    checkpointer = Checkpointer(tmp_path / "checkpoint.npz", SPEC, every_s=0)
    with pytest.raises(Stop):
        train(SPEC, tmp_path, checkpointer=checkpointer, progress=_stopping_progress)
    assert checkpointer.load().chunks == 1
    resumed = train(SPEC, tmp_path, checkpointer=checkpointer)
    assert _without_wall_clock(resumed) == _without_wall_clock(reference)
    assert not checkpointer.path.exists()


def test_checkpoint_of_another_spec_is_refused(tmp_path):
    other = Checkpointer(tmp_path / "checkpoint.npz", SPEC, every_s=0)
    other.save({"runs": {"x": np.zeros(2)}}, [], 0.0)
    changed = dataclasses.replace(SPEC, steps=400)
    with pytest.raises(CheckpointError, match="another spec"):
        Checkpointer(tmp_path / "checkpoint.npz", changed).load()
