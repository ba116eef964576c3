"""Reading run directories back: finished, partial, failed, corrupt and missing runs are told
apart, and only finished runs (partial ones on request) are scored."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sparserl.results import RunStatus, find_runs, inspect_run, load

HEADER = (
    "step,eval_return,train_return,train_episodes,loss,parameters,sparsity,weights_outside_mask,"
    "target_weights_outside_mask,target_excess_nonzeros,wall_s,active/encoder/dense_0,"
    "active/head,density/encoder/dense_0,density/head"
)


def _row(step, ret):
    return f"{step},{ret},{ret - 1},3,0.17,2560,0.9,0,0,0,{step / 100},2048,512,0.1,1.0"


def _run(
    root,
    name,
    *,
    method="rigl",
    sparsity=0.9,
    seed=0,
    returns=(10.0, 20.0, 30.0, 40.0),
    summary="finished",
    width=1.0,
):
    """A run directory as `sparserl train --out` writes it: 4000 steps, one evaluation per 1000;
    `summary` is "finished", a dict to write as summary.json, or None for no summary."""
    run = root / name
    run.mkdir(parents=True)
    config = {
        "agent": "dqn",
        "env": "CartPole-v1",
        "method": method,
        "network_methods": None,
        "actor_fraction": None,
        "seed": seed,
        "sparsity": sparsity,
        "steps": 4000,
        "eval_interval": 1000,
        "eval_episodes": 10,
        "total_updates": 876,
        "preset": "classic_control",
        "agent_config": {
            "hidden": [512, 512],
            "width": width,
            "learning_rate": 3e-4,
            "weight_decay": 0.0,
            "gamma": 0.99,
        },
        "method_config": {"sparsity": sparsity, "distribution": "erk"},
        "phases": [method],
        "versions": {"sparserl": "0.1.0"},
    }
    (run / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    rows = [_row(1000 * (i + 1), r) for i, r in enumerate(returns)]
    (run / "metrics.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    if summary == "finished":
        summary = {
            "status": "finished",
            "final_return": returns[-1],
            "evaluations": len(returns),
            "parameters": 2560,
            "sparsity": 0.9,
            "dense_parameters": 25600,
            "inference_flops": 5120,
            "training_flops_per_example": 15360.5,
            "group_wall_s": 65.3,
            "group_runs": 2,
            "finite_loss": True,
        }
    if summary is not None:
        (run / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return run


def _cut(path, keep):
    """Truncate a file to its first `keep` characters, as a crash mid-copy would."""
    path.write_text(path.read_text()[:keep])


def test_finished_run(tmp_path):
    record = inspect_run(_run(tmp_path, "a"))
    assert record.status == RunStatus.FINISHED and record.reason == ""
    assert record.metrics["step"].tolist() == [1000, 2000, 3000, 4000]
    assert record.config["seed"] == 0 and record.summary["final_return"] == 40.0


def test_format_0_mask_counts_read_under_their_new_name(tmp_path):
    """Runs written before the format had a version called the mask counts nonzeros/<layer>
    and had no networks file: they still load, their counts as active/<layer>."""
    run = _run(tmp_path, "a")
    metrics = run / "metrics.csv"
    metrics.write_text(metrics.read_text().replace("active/", "nonzeros/"))
    record = inspect_run(run)
    assert record.status == RunStatus.FINISHED
    assert record.metrics["active/encoder/dense_0"].tolist() == [2048] * 4
    assert record.metrics["active/head"].tolist() == [512] * 4
    assert not any(c.startswith("nonzeros/") for c in record.metrics.columns)


@pytest.mark.parametrize("name", ["config.json", "summary.json"])
def test_a_newer_format_is_refused_by_name(tmp_path, name):
    run = _run(tmp_path, "a")
    data = json.loads((run / name).read_text())
    (run / name).write_text(json.dumps({**data, "format_version": 2}))
    record = inspect_run(run)
    assert record.status == RunStatus.CORRUPT
    assert record.reason == (
        f"{name}: format_version 2 is newer than this sparserl reads (0 to 1); upgrade sparserl"
    )
    (run / name).write_text(json.dumps({**data, "format_version": "1"}))
    assert inspect_run(run).reason == f"{name}: format_version '1' is not a version number"


def test_partial_runs_stopped_before_the_summary(tmp_path):
    record = inspect_run(_run(tmp_path, "a", returns=(1.0, 2.0), summary=None))
    assert record.status == RunStatus.PARTIAL
    assert record.reason == "no summary.json: stopped at step 2000 of 4000"
    # a checkpoint beside the files does not change the status; nor does no metrics.csv yet
    (record.path / "checkpoint.msgpack").write_bytes(b"\0")
    (record.path / "metrics.csv").unlink()
    record = inspect_run(record.path)
    assert record.status == RunStatus.PARTIAL and "step 0 of 4000" in record.reason


def test_failed_run_keeps_its_reason(tmp_path):
    failed = {"status": "failed", "reason": "non-finite loss at step 2000"}
    record = inspect_run(_run(tmp_path, "a", summary=failed))
    assert record.status == RunStatus.FAILED
    assert record.reason == "non-finite loss at step 2000"
    # a run that failed before writing its config is failed too, not corrupt
    (record.path / "config.json").unlink()
    assert inspect_run(record.path).status == RunStatus.FAILED


def test_missing_run(tmp_path):
    assert inspect_run(tmp_path / "nowhere").status == RunStatus.MISSING
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".config.json.x1.tmp").write_text("{")  # a crash mid-write
    record = inspect_run(tmp_path / "empty")
    assert record.status == RunStatus.MISSING and record.reason == "no run files yet"


def _truncate_config(run):
    _cut(run / "config.json", 100)


def _truncate_summary(run):
    _cut(run / "summary.json", 40)


def _truncate_metrics_mid_row(run):
    _cut(run / "metrics.csv", len((run / "metrics.csv").read_text()) - 30)


def _short_row(run):
    text = (run / "metrics.csv").read_text().replace(",0.1,1.0\n4000", "\n4000")
    (run / "metrics.csv").write_text(text)


def _extra_field(run):
    text = (run / "metrics.csv").read_text().replace(",1.0\n", ",1.0,7\n", 1)
    (run / "metrics.csv").write_text(text)


def _drop_eval_return(run):
    frame = pd.read_csv(run / "metrics.csv").drop(columns="eval_return")
    frame.to_csv(run / "metrics.csv", index=False)


def _text_in_metrics(run):
    text = (run / "metrics.csv").read_text().replace("0.17", "oops", 1)
    (run / "metrics.csv").write_text(text)


def _nan_return(run):
    text = (run / "metrics.csv").read_text().replace("3000,30.0", "3000,nan")
    (run / "metrics.csv").write_text(text)


def _empty_step(run):
    text = (run / "metrics.csv").read_text().replace("3000,", ",")
    (run / "metrics.csv").write_text(text)


def _drop_last_row(run):
    lines = (run / "metrics.csv").read_text().splitlines(keepends=True)
    (run / "metrics.csv").write_text("".join(lines[:-1]))


def _more_evaluations_in_summary(run):
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "evaluations": 5}))


def _skipped_evaluation(run):
    text = (run / "metrics.csv").read_text().replace("\n3000,", "\n2500,")
    (run / "metrics.csv").write_text(text)


def _nan_final_return(run):
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "final_return": float("nan")}))


def _unknown_status(run):
    (run / "summary.json").write_text(json.dumps({"status": "running"}))


def _summary_is_a_list(run):
    (run / "summary.json").write_text("[1, 2]\n")


def _no_config(run):
    (run / "config.json").unlink()


def _no_metrics(run):
    (run / "metrics.csv").unlink()


def _string_seed(run):
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "seed": "0"}))


def _text_parameters(run):
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "parameters": "many"}))


def _text_width(run):
    config = json.loads((run / "config.json").read_text())
    config["agent_config"]["width"] = "wide"
    (run / "config.json").write_text(json.dumps(config))


def _no_sparsity(run):
    config = json.loads((run / "config.json").read_text())
    del config["sparsity"]
    (run / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_truncate_config, "config.json: not valid JSON"),
        (_truncate_summary, "summary.json: not valid JSON"),
        (_truncate_metrics_mid_row, "metrics.csv: truncated (no newline at the end)"),
        (_short_row, "metrics.csv: rows with missing or extra fields (15 named)"),
        (_extra_field, "metrics.csv: rows with missing or extra fields"),
        (_drop_eval_return, "metrics.csv: missing column(s) eval_return"),
        (_text_in_metrics, "metrics.csv: non-numeric values in loss"),
        (_nan_return, "metrics.csv: eval_return is not finite at step 3000"),
        (_empty_step, "metrics.csv: step has empty or non-integer values"),
        (_drop_last_row, "metrics.csv: 3 rows, but summary.json counts 4 evaluations"),
        (_more_evaluations_in_summary, "metrics.csv: 4 rows, but summary.json counts 5"),
        (_skipped_evaluation, "metrics.csv: steps 1000, 2000, 2500, 4000 are not every 1000"),
        (_nan_final_return, "summary.json: final_return nan is not a finite number"),
        (_unknown_status, "summary.json: unknown status 'running'"),
        (_summary_is_a_list, "summary.json: holds a list, not an object"),
        (_no_config, "config.json: missing beside metrics.csv, summary.json"),
        (_no_metrics, "metrics.csv: missing although summary.json says finished"),
        (_string_seed, "config.json: 'seed' missing or not an integer"),
        (_no_sparsity, "config.json: 'sparsity' missing (null for a dense run)"),
        (_text_width, "config.json: 'width' is 'wide', not a number"),
        (_text_parameters, "summary.json: 'parameters' is 'many', not an integer"),
    ],
)
def test_corrupt_run_names_the_file_and_the_problem(tmp_path, damage, reason):
    run = _run(tmp_path, "a")
    damage(run)
    record = inspect_run(run)
    assert record.status == RunStatus.CORRUPT
    assert record.reason.startswith(reason)


def test_truncated_metrics_of_a_partial_run_is_corrupt(tmp_path):
    run = _run(tmp_path, "a", summary=None)
    _truncate_metrics_mid_row(run)
    assert inspect_run(run).status == RunStatus.CORRUPT


def test_ending_before_the_last_step_is_corrupt(tmp_path):
    run = _run(tmp_path, "a", returns=(1.0, 2.0, 3.0))
    assert inspect_run(run).reason == "metrics.csv: ends at step 3000, but the run has 4000 steps"


def _sweep(root):
    _run(root, "dense_seed0", method="dense", sparsity=None, returns=(1.0, 2.0, 3.0, 4.0))
    _run(root, "rigl_seed0", returns=(5.0, 6.0, 7.0, 8.0), width=2.0)
    _run(root, "rigl_seed1", seed=1, returns=(1.0, 2.0), summary=None)
    _drop_last_row(_run(root, "rigl_seed2", seed=2))
    _run(root, "rigl_seed3", seed=3, summary={"status": "failed", "reason": "NaN"})
    _text_width(_run(root, "rigl_seed4", seed=4))


def test_load_sweep_scores_finished_runs_only(tmp_path):
    _sweep(tmp_path)
    (tmp_path / "spec.yaml").write_text("agent: dqn\n")
    runs, evaluations = load(tmp_path)
    assert runs["run_id"].tolist() == ["dense_seed0"] + [f"rigl_seed{i}" for i in range(5)]
    statuses = ["finished", "finished", "partial", "corrupt", "failed", "corrupt"]
    assert runs["status"].tolist() == statuses
    assert runs["reason"].iloc[3].startswith("metrics.csv: 3 rows")
    assert runs["reason"].iloc[4] == "NaN"
    assert runs["evaluations"].tolist() == [4, 4, 2, 3, 0, 0]
    # summary values only for finished runs: a corrupt run's final return is never a score
    assert runs["final_return"].tolist()[:2] == [4.0, 8.0]
    assert runs["final_return"].iloc[2:].isna().all()
    assert pd.isna(runs["sparsity"].iloc[0]) and runs["sparsity"].iloc[1] == 0.9
    # an unreadable config leaves the run's config columns empty, but the run is listed
    assert runs["width"].tolist()[:5] == [1.0, 2.0, 1.0, 1.0, 1.0]
    assert runs.iloc[5][["agent", "seed", "width"]].isna().all()
    assert runs["dense_parameters"].iloc[0] == 25600 and runs["finite_loss"].iloc[0]
    assert len(evaluations) == 8 and evaluations.columns[0] == "run_id"
    assert set(evaluations["run_id"]) == {"dense_seed0", "rigl_seed0"}
    assert list(evaluations.columns[1:]) == HEADER.split(",")
    rigl = evaluations[evaluations["run_id"] == "rigl_seed0"]
    assert rigl["eval_return"].tolist() == [5.0, 6.0, 7.0, 8.0]
    assert rigl["step"].tolist() == [1000, 2000, 3000, 4000]


def test_load_includes_partial_runs_on_request(tmp_path):
    _sweep(tmp_path)
    evaluations = load(tmp_path, include_partial=True).evaluations
    assert len(evaluations) == 10
    assert evaluations.groupby("run_id").size().to_dict() == {
        "dense_seed0": 4,
        "rigl_seed0": 4,
        "rigl_seed1": 2,
    }


def test_load_nested_sweep_and_single_run(tmp_path):
    _sweep(tmp_path / "runs")
    (tmp_path / "sweep.yaml").write_text("agent: dqn\n")
    runs, evaluations = load(tmp_path)
    assert len(runs) == 6 and runs["run_id"].iloc[0] == "runs/dense_seed0"
    assert len(evaluations) == 8
    runs, evaluations = load(tmp_path / "runs" / "rigl_seed0")
    assert runs["run_id"].tolist() == ["rigl_seed0"] and len(evaluations) == 4
    assert find_runs(tmp_path, depth=1) == []  # the runs lie two levels down


def test_load_empty_directory_gives_empty_frames(tmp_path):
    runs, evaluations = load(tmp_path)
    assert runs.empty and "final_return" in runs.columns
    assert evaluations.empty and list(evaluations.columns) == ["run_id", "step", "eval_return"]
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nowhere")
