"""The `sparserl` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from sparserl.sparsity import METHODS, SparsityConfigError, budget_table, make_method
from sparserl.sparsity.distributions import DISTRIBUTIONS
from sparserl.sparsity.summary import mlp_shapes


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


def _lambdas(text: str) -> dict[str, float]:
    out = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise argparse.ArgumentTypeError(f"expected LAYER=LAMBDA[,...], got {item!r}")
    return out


def _method_options(args: argparse.Namespace) -> dict:
    """Method options given on the command line; one the method lacks is an error later."""
    given = {
        "sparsity": args.sparsity,
        "distribution": args.distribution,
        "dense_layers": tuple(args.dense_layers.split(",")) if args.dense_layers else None,
        "dense_output": args.dense_output or None,
        "er_lambda": args.er_lambda,
        "update_interval": args.update_interval,
        "drop_fraction": args.drop_fraction,
    }
    options = {k: v for k, v in given.items() if v is not None}
    if "total_steps" in METHODS[args.method].__dataclass_fields__:
        options["total_steps"] = args.steps  # the run length has a default, unlike the rest
    return options


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
    lines += [
        "",
        f"method            {table['method']}",
        f"weights           {table['weights']:,} of {table['dense_weights']:,}"
        f" (sparsity {table['sparsity']:.4f})",
        f"parameters        {table['parameters']:,} (weights + biases)",
        f"inference FLOPs   {table['inference_flops']:,} per example"
        f" ({table['inference_flops'] / table['dense_inference_flops']:.3f}x dense)",
        f"training FLOPs    {table['training_flops']:,.0f} per example per update"
        f" ({table['training_flops'] / dense_train:.3f}x dense)",
    ]
    return "\n".join(lines)


def cmd_inspect(args: argparse.Namespace) -> int:
    """Print the per-layer budget of a method on a network, before training anything."""
    shapes = mlp_shapes(args.mlp)
    method = make_method(args.method, **_method_options(args))
    biases = sum(args.mlp[1:])
    table = budget_table(method, shapes, other_params=biases)
    print(json.dumps(table, indent=2) if args.json else _format_table(table))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    inspect.add_argument(
        "--mlp",
        type=_int_list,
        default=[4, 256, 256, 2],
        metavar="IN,H1,...,OUT",
        help="layer sizes of an MLP (default: 4,256,256,2, a CartPole Q-network)",
    )
    inspect.add_argument("--method", choices=list(METHODS), default="rigl")
    inspect.add_argument("--sparsity", type=float, help="fraction of weights removed, in [0, 1)")
    inspect.add_argument(
        "--distribution", choices=list(DISTRIBUTIONS), help="default: erk (er for ds)"
    )
    inspect.add_argument("--dense-layers", metavar="A,B", help="layers kept dense (e.g. Dense_0)")
    inspect.add_argument("--dense-output", action="store_true", help="keep the output layer dense")
    inspect.add_argument(
        "--er-lambda", type=_lambdas, metavar="LAYER=L,...", help="ER lambda per layer"
    )
    inspect.add_argument("--steps", type=int, default=100_000, help="optimizer steps in the run")
    inspect.add_argument("--update-interval", type=int, help="steps between topology updates")
    inspect.add_argument("--drop-fraction", type=float, help="initial drop fraction (eta for ds)")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of a table")
    inspect.set_defaults(run=cmd_inspect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except SparsityConfigError as error:
        print(f"sparserl {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
