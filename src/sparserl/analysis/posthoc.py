"""`sparserl eval`: evaluate the saved networks of finished runs after training, without
retraining: return under observation noise (`analysis.noise`) and the forward-pass measures
(dormant fraction, srank, parameter norm, Q statistics) on fresh evaluation observations,
written beside each run in its analysis/ folder.

Resumable like sweeps: a run's results are complete when analysis/eval.json (written last)
holds the settings they were computed with; a re-run keeps those whose settings match and
recomputes the others. A run that fails is reported and the others go on."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from sparserl.agents import PPO, OffPolicyAgent, ValueAgent
from sparserl.analysis import (
    dormant_fraction,
    hidden_activations,
    parameter_norm,
    q_statistics,
    srank,
)
from sparserl.analysis.noise import DEFAULT_SIGMAS, NoiseConfigError, check_sigmas, noise_returns
from sparserl.results import RunStatus, find_runs, inspect_run
from sparserl.rundir.atomic import remove_file, write_csv, write_json
from sparserl.rundir.policy import LoadedRun, evaluation_observations, load_run
from sparserl.rundir.schema import (
    EVAL_MEASURES,
    EVAL_SETTINGS,
    FORMAT_KEY,
    FORMAT_VERSION,
    NETWORKS,
    NOISE,
)
from sparserl.validation import is_a

# Observations the measures see: as many as the widest hidden layer measured (the Nature CNN's
# 512 units, Mnih et al. 2015), so that srank can reach full rank.
MEASURE_OBSERVATIONS = 512
# Where they come from: OBSERVATION_ENVS evaluation episodes side by side, each played for at
# most OBSERVATION_HORIZON steps (its time limit if shorter), observations kept at an even
# stride, so that they cover play well past the episodes' first steps.
OBSERVATION_ENVS = 8
OBSERVATION_HORIZON = 1000
# fold_in tag of the key of IQN's quantile fractions in the measures' forward pass
FRACTIONS_STREAM = 1_000_004


class EvalConfigError(ValueError):
    """Bad `sparserl eval` input (a directory without runs, a bad σ or count); one line."""


@dataclasses.dataclass(frozen=True)
class EvalSettings:
    """What a post-hoc evaluation computes: the noise levels σ, the episodes per σ (None: each
    run's own eval_episodes, so that σ = 0 is its final evaluation) and the number of
    observations the measures see."""

    sigmas: tuple[float, ...] = DEFAULT_SIGMAS
    episodes: int | None = None
    observations: int = MEASURE_OBSERVATIONS

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "sigmas", check_sigmas(self.sigmas))
        except NoiseConfigError as error:
            raise EvalConfigError(str(error)) from None
        if self.episodes is not None and not (is_a(int, self.episodes) and self.episodes >= 1):
            raise EvalConfigError(f"episodes must be an integer >= 1, got {self.episodes!r}")
        if not (is_a(int, self.observations) and self.observations >= 2):
            raise EvalConfigError(
                f"observations must be an integer >= 2, got {self.observations!r}"
            )

    def of_run(self, run_dir: Path, config: dict[str, Any]) -> dict[str, Any]:
        """The settings as recorded for the run in `run_dir`: the episodes resolved and the
        digest of the networks file evaluated (a retrained run is evaluated anew)."""
        return {
            "sigmas": list(self.sigmas),
            "episodes": config["eval_episodes"] if self.episodes is None else self.episodes,
            "observations": self.observations,
            "networks_sha256": hashlib.sha256((run_dir / NETWORKS).read_bytes()).hexdigest(),
        }


class EvalOutcome(NamedTuple):
    """The runs of one `evaluate_directory` call by what happened to them, as (run, reason)
    pairs; the reason is empty for evaluated and kept runs."""

    evaluated: list[tuple[str, str]]
    kept: list[tuple[str, str]]
    skipped: list[tuple[str, str]]
    failed: list[tuple[str, str]]


def evaluate_directory(
    directory: str | Path,
    settings: EvalSettings | None = None,
    report: Callable[[str], None] = print,
) -> EvalOutcome:
    """Evaluate every finished run with saved networks under `directory` (a run or a sweep)
    with `settings`, writing each run's results beside it; `report` gets one line per run.
    Raises EvalConfigError before evaluating anything if `directory` holds no runs."""
    settings = EvalSettings() if settings is None else settings
    directory = Path(directory)
    if not directory.is_dir():
        raise EvalConfigError(f"{directory}: no such directory")
    runs = find_runs(directory)
    if not runs:
        raise EvalConfigError(f"{directory}: no run directories in it (nor two levels down)")
    outcome = EvalOutcome([], [], [], [])
    for path in runs:
        name = "." if path == directory else path.relative_to(directory).as_posix()
        kind, reason = _evaluate_one(path, settings)
        getattr(outcome, kind).append((name, reason))
        report(f"{name}: {kind}" + (f" ({reason})" if reason else ""))
    return outcome


def _evaluate_one(path: Path, settings: EvalSettings) -> tuple[str, str]:
    """What became of the run at `path`: (field of EvalOutcome, reason)."""
    record = inspect_run(path)
    if record.status != RunStatus.FINISHED:
        return "skipped", f"{record.status.value}: {record.reason}"
    if not (path / NETWORKS).is_file():
        return "skipped", f"no {NETWORKS}: trained before runs saved their networks"
    try:
        wanted = settings.of_run(path, record.config)
        if _recorded_settings(path) == wanted:
            return "kept", ""
        evaluate_run_dir(path, wanted)
    except Exception as error:  # one run's failure must not stop the others
        return "failed", f"{type(error).__name__}: {error}".splitlines()[0]
    return "evaluated", ""


def _recorded_settings(path: Path) -> dict[str, Any] | None:
    """The settings of the run's complete evaluation, or None (none, or unreadable)."""
    try:
        recorded = json.loads((path / EVAL_SETTINGS).read_text())
    except (OSError, ValueError):
        return None
    recorded.pop(FORMAT_KEY, None)
    return recorded


def evaluate_run_dir(path: Path, settings: dict[str, Any]) -> None:
    """Compute and write one run's results for `settings` (as `EvalSettings.of_run` gives
    them): the old settings file is removed first, so that results cut short are never taken
    for complete, then noise.csv, measures.json and the settings file are written."""
    remove_file(path / EVAL_SETTINGS)
    run = load_run(path)
    count = settings["observations"]
    steps = min(run.env.max_episode_steps, OBSERVATION_HORIZON)
    envs = max(OBSERVATION_ENVS, -(-count // steps))
    observations = evaluation_observations(run, count, envs, steps)
    rows = noise_returns(run, settings["sigmas"], settings["episodes"], observations)
    write_csv(path / NOISE, rows)
    write_json(path / EVAL_MEASURES, {"networks": network_measures(run, observations)})
    write_json(path / EVAL_SETTINGS, {FORMAT_KEY: FORMAT_VERSION, **settings})


def network_measures(run: LoadedRun, observations: np.ndarray) -> dict[str, dict[str, Any]]:
    """Per network of the run, on `observations` (as the environment gives them):
    dormant_fraction (over all hidden layers, and per layer), srank of the last hidden
    layer's features, parameter_norm of the masked weights and, for Q networks (value agents'
    online network, the off-policy agents' critic: its first Q head), the Q statistics."""
    measured = {}
    for name, (module, inputs, q_values) in _forward_passes(run, jnp.asarray(observations)):
        activations = hidden_activations(module, run.params[name], *inputs)
        dormant, per_layer = dormant_fraction(activations)
        features = activations[-1].reshape(activations[-1].shape[0], -1)
        values: dict[str, Any] = {
            "dormant_fraction": float(dormant),
            "dormant_fraction_per_layer": [float(f) for f in per_layer],
            "srank": int(srank(features)),
            "parameter_norm": float(parameter_norm(run.params[name])),
        }
        if q_values is not None:
            values.update({k: float(v) for k, v in q_statistics(q_values).items()})
        measured[name] = values
    return measured


def _forward_passes(run: LoadedRun, obs: jax.Array) -> list[tuple[str, tuple[Any, tuple, Any]]]:
    """(network name, (module, inputs, Q-values or None)) of each network on `obs`, with the
    inputs the agent gives it: value networks the observations (and for IQN quantile
    fractions ~ U(0, 1), as acting draws them); the off-policy critic the actor's greedy
    action; PPO's networks the normalised observations."""
    agent, env, params = run.agent, run.env, run.params
    if isinstance(agent, ValueAgent):
        (name,) = params
        module = agent.network(env)
        key = jax.random.fold_in(run.evaluation_key, FRACTIONS_STREAM)
        extra = agent.example_inputs(env.obs_shape)[1:]
        fractions = tuple(jax.random.uniform(key, (obs.shape[0], *x.shape[1:])) for x in extra)
        q_values = agent.q_values(module.apply, params[name], obs, key)
        return [(name, (module, (obs, *fractions), q_values))]
    if isinstance(agent, OffPolicyAgent):
        actions = agent.greedy(params, obs)
        critic = agent.networks["critic"]
        q_first = critic.apply(params["critic"], obs, actions)[0]
        return [
            ("actor", (agent.networks["actor"], (obs,), None)),
            ("critic", (critic, (obs, actions), q_first)),
        ]
    if isinstance(agent, PPO) and agent.config.normalize_observations:
        obs = run.obs_stats.normalize(obs, agent.config.normalize_clip)
    return [(name, (module, (obs,), None)) for name, module in agent.networks.items()]
