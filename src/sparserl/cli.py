"""The `sparserl` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from sparserl.agents import AGENTS, AgentConfigError, make_agent, method_preset
from sparserl.analysis.noise import DEFAULT_SIGMAS
from sparserl.analysis.posthoc import (
    MEASURE_OBSERVATIONS,
    EvalConfigError,
    EvalSettings,
    evaluate_directory,
)
from sparserl.envs import ENVS, EnvConfigError, make_env
from sparserl.experiment import agent_budget
from sparserl.report import build as report_build
from sparserl.rundir.atomic import OutputError
from sparserl.sparsity import (
    METHODS,
    SparsityConfigError,
    all_option_names,
    budget_table,
    make_method,
    method_class,
    option_from_text,
)
from sparserl.sparsity.summary import mlp_shapes, spreads_unevenly, uniform_comparison
from sparserl.sweeps import (
    PRESETS,
    SCALES,
    SweepSpecError,
    eval_command,
    load,
    load_preset,
)
from sparserl.sweeps.ray_backend import RayOptions
from sparserl.sweeps.runner import BACKENDS, run_sweep
from sparserl.train import TrainConfigError, TrainSpec, resolve, train
from sparserl.validation import is_a, literal, non_negative

CONFIG_ERRORS = (
    SparsityConfigError,
    AgentConfigError,
    EnvConfigError,
    TrainConfigError,
    SweepSpecError,
    EvalConfigError,
    OutputError,  # an --out that cannot hold results, a directory in use, a full disk
)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors, `sparserl train: error: ...`, exit status 2 (the usage
    is under --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if len(values) < 2 or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected at least two positive sizes, got {text!r}")
    return values


def _float_list(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None
    repeated = sorted({v for i, v in enumerate(values) if v in values[:i]})
    if repeated:
        raise argparse.ArgumentTypeError(f"{repeated} listed more than once in {text!r}")
    return values


def _seconds(text: str) -> float:
    """A duration in seconds: a finite number >= 0."""
    value = literal(text)
    if not is_a(float, value) or not non_negative(value):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return float(value)


def _literal(name: str, text: str) -> Any:
    """A command-line value as a Python literal, whatever option it is for."""
    return literal(text)


def _assignments(
    items: list[str] | None,
    kind: str,
    read: Callable[[str, str], Any] = _literal,
    names: Sequence[str] = (),
) -> dict:
    """NAME=VALUE pairs as a dict of values read by `read(name, text)`; each name once (a
    later value would silently replace an earlier one). With `names`, one item may hold
    several pairs, split at each comma followed by one of `names` and '='. Types and ranges
    are checked by the config the values go to."""
    if names:
        split = re.compile(r",\s*(?=(?:" + "|".join(map(re.escape, names)) + r")\s*=)")
        items = [part for item in items or [] for part in split.split(item)]
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise argparse.ArgumentTypeError(f"expected NAME=VALUE for {kind}, got {item!r}")
        if name in out:
            raise argparse.ArgumentTypeError(f"{kind} {name} given twice")
        out[name] = read(name, value)
    return out


# The flag of each method option the grid sets (experiment.GRID_OPTIONS).
_GRID_METHOD_OPTIONS = {"sparsity": "--sparsity", "total_steps": "--steps"}


def _method_set(
    items: list[str] | None, kind: str, grid: dict[str, str], extra: Sequence[str] = ()
) -> dict:
    """Method options NAME=VALUE, each read by the type the methods declare for it (e.g.
    dense_layers=a,b is a tuple, er_lambda=Dense_0=7,Dense_1=64 a mapping); `grid`: the
    options set by other flags, named in the error; `extra`: other names allowed (as text)."""

    def read(name: str, text: str) -> Any:
        return text if name in extra else option_from_text(name, text)

    options = _assignments(items, kind, read, [*all_option_names(), *extra])
    for name, flag in grid.items():
        if name in options:
            raise argparse.ArgumentTypeError(f"{kind} {name}: give it with {flag}")
    return options


def _sweep(items: list[str] | None) -> dict[str, tuple[float, ...]]:
    return {
        name: tuple(value) if isinstance(value, tuple) else (value,)
        for name, value in _assignments(items, "--sweep").items()
    }


def _method_options(args: argparse.Namespace) -> dict:
    """The --method-set options (the sparse method of every network); one the method lacks
    is an error, naming its options, when the method is built."""
    return _method_set(args.method_set, "--method-set", _GRID_METHOD_OPTIONS)


def _network_options(args: argparse.Namespace) -> dict[str, dict]:
    """--NETWORK-set options per network name (actor, critic: what the agents declare)."""
    return {
        name: _method_set(items, f"--{name}-set", {"total_steps": "--steps"}, ("method",))
        for name in _network_names()
        if (items := getattr(args, f"{name}_set"))
    }


def _network_names() -> list[str]:
    """The networks of the registered agents that have several, each with its own method."""
    names: list[str] = []
    for entry in AGENTS.values():
        if len(entry.networks) > 1:
            names += [n for n in entry.networks if n not in names]
    return names


def _format_table(table: dict) -> str:
    rows = [("layer", "shape", "density", "nonzeros", "size", "inference FLOPs")]
    for layer in table["layers"]:
        rows.append(
            (
                layer["layer"],
                "x".join(map(str, layer["shape"])),
                f"{layer['density']:.4f}",
                f"{layer['nonzeros']:,}",
                f"{layer['size']:,}",
                f"{layer['inference_flops']:,}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    dense_train = table["dense_training_flops"]

    def versus_uniform(kind: str) -> str:
        ratio = table.get(f"{kind}_flops_vs_uniform")
        return "" if ratio is None else f", {ratio:.2f}x uniform"

    lines += [
        "",
        f"method            {table['method']}",
        f"weights           {table['weights']:,} of {table['dense_weights']:,}"
        f" (sparsity {table['sparsity']:.4f})",
        f"parameters        {table['parameters']:,} (weights + biases)",
        f"inference FLOPs   {table['inference_flops']:,} per example"
        f" ({table['inference_flops'] / table['dense_inference_flops']:.3f}x dense"
        f"{versus_uniform('inference')})",
        f"training FLOPs    {table['training_flops']:,.0f} per example per update"
        f" ({table['training_flops'] / dense_train:.3f}x dense{versus_uniform('training')})",
    ]
    return "\n".join(lines)


def _spec(args: argparse.Namespace, sparsities: tuple[float, ...]) -> TrainSpec:
    # the probe's options where given (TrainSpec holds their defaults)
    probe = {k: getattr(args, k, None) for k in ("diagnostics_every", "diagnostics_batch")}
    return TrainSpec(
        agent=args.agent,
        env=args.env,
        method=args.method,
        sparsities=sparsities,
        seeds=getattr(args, "seeds", 1),
        steps=args.steps,
        eval_interval=getattr(args, "eval_interval", None),
        eval_episodes=getattr(args, "eval_episodes", 10),
        preset=args.preset,
        agent_options=_assignments(args.set, "--set"),
        env_options=_assignments(getattr(args, "env_set", None), "--env-set"),
        method_options=_method_options(args),
        sweep=_sweep(getattr(args, "sweep", None)),
        match_sparsity=args.match_sparsity,
        network_options=_network_options(args),
        actor_fraction=args.actor_fraction,
        save_networks_every=getattr(args, "save_networks_every", None),
        **{k: v for k, v in probe.items() if v is not None},
    )


def cmd_inspect(args: argparse.Namespace) -> int:
    """Print the per-layer budget of a method on a network, before training anything."""
    if args.agent is not None:
        if args.env is None:
            raise TrainConfigError("inspect AGENT ENV needs both an agent and an environment")
        if args.method is None and method_preset(args.agent, args.preset, args.env) is None:
            args.method = "rigl"  # inspect shows a sparse network unless a preset names one
        # The run length only sets schedules here: round it up to whole learning iterations
        # (PPO learns once per rollout of num_envs x num_steps env steps).
        agent = make_agent(
            args.agent, make_env(args.env), args.preset, _assignments(args.set, "--set")
        )
        period = getattr(agent, "update_period", 1)
        args.steps = -(-args.steps // period) * period
        plan = resolve(_spec(args, (args.sparsity,) if args.sparsity is not None else ()))
        table, methods = dict(plan.runs[0].budget), plan.runs[0].methods.values()
        if any(spreads_unevenly(m) for m in methods):
            uniform = agent_budget(plan, args.sparsity, distribution="uniform")
            table.update(uniform_comparison(table, uniform))
        table = {"agent": args.agent, "env": args.env, **table}
    else:
        args.method = args.method or "rigl"
        options = _method_options(args)
        if args.sparsity is not None:
            options["sparsity"] = args.sparsity
        if "total_steps" in {f.name for f in dataclasses.fields(method_class(args.method))}:
            options["total_steps"] = args.steps  # the run length has a default
        method = make_method(args.method, **options)
        shapes = mlp_shapes(args.mlp)
        table = budget_table(method, shapes, other_params=sum(args.mlp[1:]))
        if spreads_unevenly(method):
            uniform = dataclasses.replace(method, distribution="uniform")
            table.update(uniform_comparison(table, budget_table(uniform, shapes)))
    print(json.dumps(table, indent=2) if args.json else _format_table(table))
    return 0


def _check_out(out: str | None) -> None:
    """--out must be a folder, or creatable as one, in a writable place: checked before any run
    starts, so a bad path never costs a training run."""
    if out is None:
        return
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise OutputError(f"--out {out}: is an existing file, not a directory")
    existing = path.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"--out {out}: {existing} is a file, not a directory")
    try:  # a folder made and removed at once: permissions, read-only or virtual file systems
        os.rmdir(tempfile.mkdtemp(prefix=".sparserl-write-test-", dir=existing))
    except OSError as error:
        problem = f"--out {out}: cannot write in {existing} ({error.strerror})"
        raise OutputError(problem) from None


def cmd_train(args: argparse.Namespace) -> int:
    """Train a grid of runs (sparsity levels x swept values x seeds) as one program."""
    _check_out(args.out)
    results = train(_spec(args, args.sparsity or ()), out=args.out)
    for result in results:
        print(f"{result.run_id}: final_return {result.summary['final_return']:.1f}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run a sweep (a preset or a YAML spec) into --out, resuming whatever is there."""
    _check_out(args.out)
    path = Path(args.spec)
    spec = load(path) if path.is_file() else load_preset(args.spec, args.scale)
    outcome = run_sweep(
        spec,
        args.out,
        backend=args.backend,
        retry_failed=args.retry_failed,
        checkpoint_every=args.checkpoint_every,
        ray=_ray_options(args),
    )
    print(
        f"{args.out}: {outcome.finished} run(s) finished, {outcome.failed} failed, "
        f"{outcome.kept} kept from before"
    )
    then = None if path.is_file() else eval_command(args.spec, args.scale, args.out)
    if then is not None:  # the design's post-hoc evaluation (sweeps.presets.EVALUATIONS)
        print(f"then, to complete the preset's design: {then}")
    return 1 if outcome.failed else 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate the saved networks of the finished runs under DIR (noise robustness and
    measures on evaluation data), resuming whatever is there."""
    settings = EvalSettings(args.sigmas, args.episodes, args.observations)
    outcome = evaluate_directory(args.dir, settings)
    print(
        f"{args.dir}: {len(outcome.evaluated)} run(s) evaluated, {len(outcome.kept)} kept "
        f"from before, {len(outcome.skipped)} skipped, {len(outcome.failed)} failed"
    )
    return 1 if outcome.failed else 0


def _ray_options(args: argparse.Namespace) -> RayOptions | None:
    """The Ray options given on the command line; None when none were (the local default)."""
    given = {
        name: getattr(args, name)
        for name in ("address", "cpus_per_group", "gpus_per_group")
        if getattr(args, name) is not None
    }
    return RayOptions(**given) if given or args.backend == "ray" else None


def _add_method_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--method",
        choices=list(METHODS),
        default=None,
        help="sparse method (default: the preset's, e.g. ds for td3 --preset ds-td3, else "
        "dense; rigl for inspect --mlp)",
    )
    parser.add_argument(
        "--method-set",
        action="append",
        metavar="NAME=VALUE",
        help="set an option of the sparse method, any field of its class, e.g. --method-set "
        "drop_fraction=0.2 --method-set distribution=uniform,dense_layers=Dense_0,Dense_1 or "
        "--method-set er_lambda=Dense_0=7,Dense_1=64 (repeatable; pairs may share one value, "
        "split by commas)",
    )


def _add_agent_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        help="hyper-parameter preset (default: the env id's if the agent has one, else the "
        "env family's)",
    )
    parser.add_argument(
        "--match-sparsity",
        type=float,
        metavar="S",
        help="dense only: pick the width whose parameter count matches the network at "
        "sparsity S (parameter-matched dense baseline)",
    )
    parser.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="override an agent hyper-parameter, e.g. --set learning_rate=3e-4 (repeatable)",
    )
    parser.add_argument(
        "--env-set",
        action="append",
        metavar="NAME=VALUE",
        help="change an environment setting, e.g. --env-set repeat_action_probability=0 on "
        "Atari (repeatable)",
    )
    for name in _network_names():
        parser.add_argument(
            f"--{name}-set",
            action="append",
            metavar="NAME=VALUE",
            help=f"agents with a {name} network: a method option for the {name} only, e.g. "
            f"--{name}-set sparsity=0.5 or --{name}-set method=dense (repeatable)",
        )
    parser.add_argument(
        "--actor-fraction",
        type=float,
        metavar="F",
        help="actor-critic agents: the actor's share of one weight budget of (1 - sparsity) x "
        "the dense weights of both networks (Graesser et al. 2022; dense split ~0.33)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sparserl",
        description="Sparse training of deep RL agents: Prune, Static, SET, RigL, DS-TD3.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    inspect = sub.add_parser(
        "inspect",
        help="per-layer shapes, densities, nonzeros and FLOPs of a sparse network",
        description="Show how a sparse method spreads its budget over a network's layers, "
        "with parameter and FLOP counts, before training anything.",
    )
    inspect.add_argument("agent", nargs="?", help=f"one of {list(AGENTS)} (or use --mlp)")
    inspect.add_argument("env", nargs="?", help="environment id, e.g. CartPole-v1")
    inspect.add_argument(
        "--mlp",
        type=_int_list,
        default=[4, 256, 256, 2],
        metavar="IN,H1,...,OUT",
        help="layer sizes of an MLP (default: 4,256,256,2, a CartPole Q-network)",
    )
    _add_method_options(inspect)
    inspect.add_argument("--sparsity", type=float, help="fraction of weights removed, in [0, 1)")
    _add_agent_options(inspect)
    inspect.add_argument(
        "--steps",
        type=int,
        default=100_000,
        help="run length: env steps with AGENT ENV, optimizer steps with --mlp",
    )
    inspect.add_argument("--json", action="store_true", help="print JSON instead of a table")
    inspect.set_defaults(run=cmd_inspect)

    trainer = sub.add_parser(
        "train",
        help="train an agent: a grid of sparsities x seeds as one vmapped program",
        description="Train AGENT on ENV with a sparse method. Every sparsity level, swept "
        "value and seed runs in one compiled, vmapped program; each run gets a directory "
        "with config.json, metrics.csv and summary.json under --out.",
    )
    trainer.add_argument("agent", help=f"one of {list(AGENTS)}")
    trainer.add_argument("env", help=f"one of {list(ENVS)}")
    _add_method_options(trainer)
    trainer.add_argument(
        "--sparsity", type=_float_list, metavar="S1,S2,...", help="sparsity levels, e.g. 0.5,0.9"
    )
    trainer.add_argument("--seeds", type=int, default=1, help="number of seeds (0..N-1)")
    trainer.add_argument("--steps", type=int, default=100_000, help="env steps per run")
    trainer.add_argument("--eval-interval", type=int, help="env steps between evaluations")
    trainer.add_argument("--eval-episodes", type=int, default=10, help="episodes per evaluation")
    trainer.add_argument(
        "--save-networks-every",
        type=int,
        metavar="K",
        help="also save every run's networks after every K-th evaluation (the final ones always)",
    )
    trainer.add_argument(
        "--diagnostics-every",
        type=int,
        metavar="K",
        help="probe the networks (dormant neurons, srank, gradient SNR, norms, mask turnover, "
        "Q statistics) at every K-th evaluation; 0: off (default: 10)",
    )
    trainer.add_argument(
        "--diagnostics-batch",
        type=int,
        metavar="N",
        help="examples in the probe's batch (default: the agent's training minibatch)",
    )
    _add_agent_options(trainer)
    trainer.add_argument(
        "--sweep",
        action="append",
        metavar="NAME=V1,V2",
        help="vmap over values of a hyper-parameter, e.g. --sweep learning_rate=1e-3,3e-4",
    )
    trainer.add_argument("--out", help="directory for the run directories")
    trainer.set_defaults(run=cmd_train)

    sweep = sub.add_parser(
        "sweep",
        help="run a sweep (a preset or a YAML spec), resumably, into one directory",
        description="Run every group of a sweep into OUT/<group_id>/<run_id>, writing the spec "
        "to OUT/sweep.yaml. Re-running skips finished runs, resumes interrupted groups from "
        "their checkpoint and redoes corrupt runs; failed runs are kept (see --retry-failed).",
    )
    sweep.add_argument("spec", help=f"a sweep YAML file, or a preset: {list(PRESETS)}")
    sweep.add_argument("--out", required=True, help="the sweep directory")
    sweep.add_argument(
        "--scale", choices=SCALES, default="smoke", help="preset scale (default: smoke)"
    )
    sweep.add_argument(
        "--backend",
        choices=BACKENDS,
        default="local",
        help="where groups run: one after another here (local, the default) or one Ray task "
        "per group (ray; needs the ray extra and an --out every node sees at the same path)",
    )
    sweep.add_argument(
        "--ray-address",
        dest="address",
        help="the Ray cluster to join, e.g. auto (default: start Ray on this machine)",
    )
    sweep.add_argument(
        "--cpus-per-group",
        type=float,
        help="CPUs each Ray task reserves (default 1; XLA then uses one thread per task)",
    )
    sweep.add_argument(
        "--gpus-per-group",
        type=float,
        help="GPUs each Ray task reserves (default 0; a fraction shares a GPU between groups)",
    )
    sweep.add_argument("--retry-failed", action="store_true", help="redo the failed runs")
    sweep.add_argument(
        "--checkpoint-every",
        type=_seconds,
        default=600.0,
        metavar="SECONDS",
        help="save a group's checkpoint at the first chunk boundary this long after the last "
        "(0: every chunk; default 600)",
    )
    sweep.set_defaults(run=cmd_sweep)

    report = sub.add_parser(
        "report",
        help="figures, IQM score tables and an HTML/Markdown report of a sweep or runs directory",
        description="Write DIR/report/ (index.html, summary.md, scores.csv, PNG and SVG "
        "figures) from the finished runs under DIR; unfinished runs are listed, never scored.",
    )
    report_build.add_arguments(report)
    report.set_defaults(run=report_build.run)

    evaluate = sub.add_parser(
        "eval",
        help="evaluate saved networks: return under observation noise, dormant neurons, srank",
        description="Evaluate the saved networks of every finished run under DIR (a run or a "
        "sweep) without retraining: the return under observation noise N(0, sigma) for each "
        "sigma (Graesser et al. 2022: integer pixel noise on Atari; noise scaled by each "
        "dimension's spread elsewhere) and the dormant fraction, srank, parameter norm and Q "
        "statistics on evaluation data, written to each run's analysis/ folder. Re-running "
        "keeps runs evaluated with the same settings; runs without networks are skipped.",
    )
    evaluate.add_argument("dir", help="a run directory or a sweep directory")
    evaluate.add_argument(
        "--sigmas",
        type=_float_list,
        default=DEFAULT_SIGMAS,
        metavar="S1,S2,...",
        help="noise levels sigma >= 0, pixel values on Atari (default: "
        f"{','.join(f'{s:g}' for s in DEFAULT_SIGMAS)}; Graesser et al. use 0 to 30)",
    )
    evaluate.add_argument(
        "--episodes",
        type=int,
        help="episodes per noise level (default: each run's eval_episodes, so that sigma 0 "
        "repeats its final evaluation)",
    )
    evaluate.add_argument(
        "--observations",
        type=int,
        default=MEASURE_OBSERVATIONS,
        help=f"evaluation observations the measures see (default {MEASURE_OBSERVATIONS})",
    )
    evaluate.set_defaults(run=cmd_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (argparse.ArgumentTypeError, *CONFIG_ERRORS) as error:
        print(f"sparserl {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a file-system failure during the run: the path, in one line
        where = f"{error.filename}: " if error.filename else ""
        print(f"sparserl {args.command}: error: {where}{error.strerror or error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
