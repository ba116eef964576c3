"""The run-directory format, in one place: every file name, the metrics columns, the summary
fields and the format version, shared by the writer (training) and the readers (results,
report, sweep resume, saved networks)."""

from __future__ import annotations

import re
from typing import Any

# Version 1: format_version in config.json, summary.json and the networks files; the mask
# counts column is active/<layer> (version 0 wrote them as nonzeros/<layer>); saved networks.
FORMAT_VERSION = 1
FORMAT_KEY = "format_version"  # in config.json, summary.json and every networks file

# ---- files of a run directory --------------------------------------------------------------
CONFIG = "config.json"  # the resolved run: agent, env, method, seed, sparsity, configs
METRICS = "metrics.csv"  # one row per evaluation
SUMMARY = "summary.json"  # written last: a run with it is done (finished or failed)
RUN_FILES = (CONFIG, METRICS, SUMMARY)
NETWORKS = "networks.npz"  # the final networks, written before the summary
CHECKPOINT = "checkpoint.npz"  # a group's resumable state, in the group's directory
_PERIODIC_NETWORKS = re.compile(r"networks_step(\d+)\.npz")


def periodic_networks(step: int) -> str:
    """The file of the networks saved at evaluation step `step` (save_networks_every)."""
    return f"networks_step{step}.npz"


def periodic_step(name: str) -> int | None:
    """The step of a periodic networks file named `name`, or None for any other file."""
    match = _PERIODIC_NETWORKS.fullmatch(name)
    return int(match.group(1)) if match else None


# ---- config.json -----------------------------------------------------------------------------
AGENT_NUMBERS = ("width", "learning_rate", "weight_decay", "gamma")  # in agent_config, if there

# ---- metrics.csv: fixed columns, the agent's losses, then per-layer columns -----------------
STEP, EVAL_RETURN = "step", "eval_return"
REQUIRED_COLUMNS = (STEP, EVAL_RETURN)
TRAINING_COLUMNS = ("train_return", "train_episodes")  # after eval_return; then the losses
NETWORK_COLUMNS = (  # after the losses
    "parameters",  # the online (or every) network's active weights plus never-masked ones
    "sparsity",  # 1 - active weights / dense weights
    "weights_outside_mask",  # nonzero online weights where the mask is False (should be 0)
    "target_weights_outside_mask",
    "target_excess_nonzeros",  # target nonzeros beyond the online mask's count, per layer
    "wall_s",
)
ACTIVE = "active/"  # + layer: the layer's mask count (its size for a dense layer)
DENSITY = "density/"  # + layer: active / the layer's dense size
LEGACY_ACTIVE = "nonzeros/"  # format 0's name of the ACTIVE columns; renamed on read

# ---- metrics.csv: diagnostics of the in-loop probe (analysis.probe), last ---------------------
# Column `diag/<network>/<measure>`, per layer `diag/<network>/<measure>/<layer>`; network: the
# agent's network name (online; actor, critic). Absent when diagnostics are off; empty in the
# rows of evaluations without a probe (the cadence, or before learning starts).
DIAGNOSTICS = "diag/"
DORMANT_FRACTION = "dormant_fraction"  # tau-dormant neurons over all hidden layers, per layer
SRANK = "srank"  # effective rank of the last hidden layer's features (an integer)
GRADIENT_SNR = "gradient_snr"  # mean |mean| / std of per-example gradients, active weights
PARAMETER_NORM = "parameter_norm"  # global L2 norm of the masked weights
MASK_TURNOVER = "mask_turnover"  # per layer only: active connections new since the last probe
Q_STATISTICS = ("q_mean", "q_variance", "q_norm", "q_target_variance")  # Q networks, critics
# Per-layer names: dormant fractions by hidden layer in forward order (hidden0, hidden1, ...),
# mask turnover by kernel name (sparsity.masks.kernel_name, as in active/<layer>).
HIDDEN_LAYER = "hidden"


def diagnostic_key(measure: str, layer: str | int | None = None) -> str:
    """A probe measure's name within its network: `measure`, or `measure/<layer>` (an integer
    layer is a hidden layer's index: hidden<i>)."""
    if layer is None:
        return measure
    return f"{measure}/{HIDDEN_LAYER}{layer}" if isinstance(layer, int) else f"{measure}/{layer}"


def diagnostic_column(network: str, key: str) -> str:
    """The metrics.csv column of network `network`'s probe measure `key` (`diagnostic_key`)."""
    return f"{DIAGNOSTICS}{network}/{key}"


# ---- gradient cosine matrices: a few probes' [N, N] matrices, one file each ----------------
# An npz of {network: float32 [N, N]} (N: the probe batch), at the first probe after learning
# starts, the probe nearest the middle of training and the last one.
_GRADIENT_COSINE = re.compile(r"gradient_cosine_step(\d+)\.npz")


def gradient_cosine_file(step: int) -> str:
    """The file of the gradient cosine matrices of the probe at evaluation step `step`."""
    return f"gradient_cosine_step{step}.npz"


def gradient_cosine_step(name: str) -> int | None:
    """The step of a gradient cosine file named `name`, or None for any other file."""
    match = _GRADIENT_COSINE.fullmatch(name)
    return int(match.group(1)) if match else None


# ---- summary.json ------------------------------------------------------------------------------
FINISHED, FAILED = "finished", "failed"  # its "status"
SUMMARY_INTEGERS = ("parameters", "dense_parameters")  # in a finished summary, if there
SUMMARY_NUMBERS = ("inference_flops", "training_flops_per_example", "sparsity", "group_wall_s")
# column of results.load: summary.json field (the config's sparsity is the target, the
# summary's the one reached)
SUMMARY_COLUMNS = {
    "final_return": "final_return",
    "parameters": "parameters",
    "dense_parameters": "dense_parameters",
    "final_sparsity": "sparsity",
    "inference_flops": "inference_flops",
    "training_flops_per_example": "training_flops_per_example",
    "group_wall_s": "group_wall_s",
    "finite_loss": "finite_loss",
}


def failed_summary(reason: str) -> dict[str, Any]:
    """The summary of a run that failed before it finished."""
    return {"status": FAILED, "reason": reason, FORMAT_KEY: FORMAT_VERSION}


class FormatVersionError(ValueError):
    """A run file written by a newer sparserl than this one, or with a broken version."""


def version_problem(data: dict[str, Any]) -> str | None:
    """Why this sparserl cannot read a file holding `data` (a format_version newer than
    FORMAT_VERSION, or not a version number; none: version 0), or None if it can."""
    version = data.get(FORMAT_KEY, 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        return f"format_version {version!r} is not a version number"
    if version > FORMAT_VERSION:
        return (
            f"format_version {version} is newer than this sparserl reads "
            f"(0 to {FORMAT_VERSION}); upgrade sparserl"
        )
    return None


# ---- post-hoc evaluation (`sparserl eval`), in <run>/analysis/ --------------------------------
ANALYSIS = "analysis"  # the folder beside a run's files
NOISE = f"{ANALYSIS}/noise.csv"  # one row per noise level: NOISE_COLUMNS
NOISE_SIGMA, NOISE_EPISODES = "sigma", "episodes"
NOISE_COLUMNS = (NOISE_SIGMA, EVAL_RETURN, NOISE_EPISODES)
EVAL_MEASURES = f"{ANALYSIS}/measures.json"  # {"networks": {name: {measure: value}}}
# Written last, with the settings the results were computed with: the evaluation is done for
# those settings when it is there (a re-run with other settings recomputes).
EVAL_SETTINGS = f"{ANALYSIS}/eval.json"
