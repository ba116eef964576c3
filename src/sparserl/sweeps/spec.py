"""A sweep spec: agents x envs x methods x widths x sparsities x seeds, read from YAML or a dict
and checked key by key, so a typo fails before any run starts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from sparserl.agents import ACTOR_CRITIC, AGENTS, SWEEPABLE
from sparserl.envs import ENVS
from sparserl.sparsity import METHODS

# Every top-level key with the type it takes, for the error messages.
KEYS: dict[str, str] = {
    "name": "a string",
    "agents": f"a non-empty list of agents from {list(AGENTS)}",
    "envs": f"a non-empty list of environment ids from {list(ENVS)}",
    "methods": "a non-empty list of method names or {name: METHOD, OPTION: VALUE, ...} entries",
    "sparsities": "a non-empty list of numbers in [0, 1)",
    "seeds": "a positive integer",
    "widths": "a non-empty list of positive numbers",
    "steps": "a positive integer, or a mapping from 'default', an agent or an env to one",
    "eval_interval": "a positive integer",
    "eval_episodes": "a positive integer",
    "preset": "a string (an agent hyper-parameter preset)",
    "overrides": "a mapping of agent options, and of agent names to their own options",
    "method_options": "a mapping of method options (for every sparse method that has them)",
    "sweep": f"a mapping from {list(SWEEPABLE)} to non-empty lists of numbers",
    "max_runs_per_group": "a positive integer: the most runs one program holds (device memory)",
    "axes": "a mapping from agent options, sparse-method options or 'actor_fraction' to non-empty "
    "lists of values: one group (its own program) per value",
}
REQUIRED = ("name", "agents", "envs", "methods")
# Set by the grid or by `resolve`, never by a method entry.
_GRID_OPTIONS = ("sparsity", "total_steps")


class SweepSpecError(ValueError):
    """A sweep spec or sweep group that cannot run, named by key with the allowed values."""


@dataclasses.dataclass(frozen=True)
class MethodEntry:
    """One method of the sweep: its name, its own options, and whether it is the
    parameter-matched dense baseline (one group per sparsity level)."""

    name: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    match_sparsity: bool = False


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """A checked sweep: the grid a runner expands into one TrainSpec per compiled program."""

    name: str
    agents: tuple[str, ...]
    envs: tuple[str, ...]
    methods: tuple[MethodEntry, ...]
    sparsities: tuple[float, ...] = ()  # empty: each sparse method's own default level
    seeds: int = 1
    widths: tuple[float, ...] = (1.0,)
    steps: dict[str, int] = dataclasses.field(default_factory=lambda: {"default": 100_000})
    eval_interval: int | None = None
    eval_episodes: int = 10
    preset: str | None = None
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    method_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    sweep: dict[str, tuple[float, ...]] = dataclasses.field(default_factory=dict)
    # Groups with more runs are split by sparsity level (e.g. Atari: 7 GB of replay per run).
    max_runs_per_group: int | None = None
    # Sweep axes: option -> values, one group per value (unlike `sweep`, which vmaps them).
    axes: dict[str, tuple[Any, ...]] = dataclasses.field(default_factory=dict)

    def steps_for(self, agent: str, env: str) -> int:
        """Env steps of `agent` on `env`: the env's entry, else the agent's, else the default."""
        for key in (env, agent, "default"):
            if key in self.steps:
                return self.steps[key]
        raise SweepSpecError(f"steps: no value for {agent} on {env}")

    def overrides_for(self, agent: str) -> dict[str, Any]:
        """Agent options of `agent`: the shared overrides, then its own."""
        shared = {k: v for k, v in self.overrides.items() if k not in AGENTS}
        return {**shared, **self.overrides.get(agent, {})}


def _fail(key: str, value: Any, expected: str) -> SweepSpecError:
    return SweepSpecError(f"{key}: expected {expected}, got {value!r} ({type(value).__name__})")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _positive_int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _fail(key, value, "a positive integer")
    return value


def _mapping(key: str, value: Any, expected: str) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise _fail(key, value, expected)
    return dict(value)


def _list(key: str, value: Any, expected: str) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise _fail(key, value, expected)
    if not value:
        raise SweepSpecError(f"{key}: the list is empty, so the grid would be empty; {expected}")
    return list(value)


def _names(key: str, value: Any, allowed: Mapping[str, Any]) -> tuple[str, ...]:
    expected = KEYS[key]
    names = _list(key, value, expected)
    for name in names:
        if not isinstance(name, str):
            raise _fail(key, name, expected)
        if name not in allowed:
            raise SweepSpecError(f"{key}: unknown {name!r}; choose from {list(allowed)}")
    _no_duplicates(key, names)
    return tuple(names)


def _numbers(key: str, value: Any, valid: Callable[[float], bool]) -> tuple[float, ...]:
    expected = KEYS.get(key, "a non-empty list of numbers")
    numbers = _list(key, value, expected)
    for number in numbers:
        if not _is_number(number) or not valid(number):
            raise _fail(key, number, expected)
    _no_duplicates(key, numbers)
    return tuple(float(n) for n in numbers)


def _no_duplicates(key: str, items: list[Any]) -> None:
    repeated = [item for i, item in enumerate(items) if item in items[:i]]
    if repeated:
        raise SweepSpecError(f"{key}: {repeated} listed more than once")


def _method_fields(name: str) -> list[str]:
    """The options a method entry may set (sparsity and run length come from the grid)."""
    fields = METHODS[name].__dataclass_fields__
    return [f for f in fields if f not in _GRID_OPTIONS]


def _tuples(options: dict[str, Any]) -> dict[str, Any]:
    """Method options with YAML lists as tuples (e.g. dense_layers), as the methods take them."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}


def _method_entry(index: int, value: Any) -> MethodEntry:
    key = f"methods[{index}]"
    if isinstance(value, str):
        value = {"name": value}
    entry = _mapping(key, value, KEYS["methods"])
    name = entry.pop("name", None)
    if not isinstance(name, str):
        raise _fail(f"{key}.name", name, f"a method name from {list(METHODS)}")
    if name not in METHODS:
        raise SweepSpecError(f"{key}.name: unknown method {name!r}; choose from {list(METHODS)}")
    match = entry.pop("match_sparsity", False)
    if not isinstance(match, bool):
        raise _fail(f"{key}.match_sparsity", match, "true or false")
    if match and name != "dense":
        raise SweepSpecError(
            f"{key}.match_sparsity: the parameter-matched baseline is a dense network; "
            f"give it with name 'dense', not {name!r}"
        )
    allowed = [] if match else _method_fields(name)
    unknown = [k for k in entry if k not in allowed]
    if unknown:
        what = "a matched dense entry" if match else f"method {name!r}"
        raise SweepSpecError(f"{key}: {what} has no option(s) {unknown}; allowed: {allowed}")
    return MethodEntry(name, _tuples(entry), match)


def _methods(value: Any) -> tuple[MethodEntry, ...]:
    entries = [_method_entry(i, v) for i, v in enumerate(_list("methods", value, KEYS["methods"]))]
    _no_duplicates(
        "methods", [(e.name, sorted(e.options.items()), e.match_sparsity) for e in entries]
    )
    return tuple(entries)


def _steps(value: Any, agents: tuple[str, ...], envs: tuple[str, ...]) -> dict[str, int]:
    if not isinstance(value, Mapping):
        return {"default": _positive_int("steps", value)}
    steps = _mapping("steps", value, KEYS["steps"])
    allowed = ["default", *agents, *envs]
    for name, count in steps.items():
        if name not in allowed:
            raise SweepSpecError(f"steps: unknown key {name!r}; allowed: {allowed}")
        _positive_int(f"steps.{name}", count)
    missing = [f"{a} on {e}" for a in agents for e in envs if not {a, e, "default"} & steps.keys()]
    if missing:
        raise SweepSpecError(f"steps: no value for {missing}; add a 'default'")
    return steps


def _overrides(value: Any, agents: tuple[str, ...]) -> dict[str, Any]:
    overrides = _mapping("overrides", value, KEYS["overrides"])
    if "width" in overrides:
        raise SweepSpecError("overrides: give the width with 'widths', not as an override")
    for name, own in overrides.items():
        if name not in AGENTS:
            continue
        if name not in agents:
            raise SweepSpecError(f"overrides.{name}: {name!r} is not one of agents {list(agents)}")
        own = _mapping(f"overrides.{name}", own, "a mapping of agent options")
        if "width" in own:
            raise SweepSpecError(f"overrides.{name}: give the width with 'widths'")
    return overrides


def _method_options(value: Any, methods: tuple[MethodEntry, ...]) -> dict[str, Any]:
    options = _mapping("method_options", value, KEYS["method_options"])
    sparse = sorted({e.name for e in methods if e.name != "dense"})
    allowed = sorted({f for name in sparse for f in _method_fields(name)})
    unknown = [k for k in options if k not in allowed]
    if unknown:
        raise SweepSpecError(
            f"method_options: {unknown} is an option of none of the sparse methods {sparse}; "
            f"allowed: {allowed}"
        )
    return _tuples(options)


def _sweep(value: Any) -> dict[str, tuple[float, ...]]:
    sweep = _mapping("sweep", value, KEYS["sweep"])
    for name in sweep:
        if name not in SWEEPABLE:
            raise SweepSpecError(f"sweep: {name!r} cannot be swept; choose from {list(SWEEPABLE)}")
    return {name: _numbers(f"sweep.{name}", v, lambda _: True) for name, v in sweep.items()}


def parse(data: Mapping[str, Any]) -> SweepSpec:
    """A SweepSpec from a mapping (parsed YAML); raises SweepSpecError naming the bad key."""
    if not isinstance(data, Mapping):
        raise _fail("spec", data, f"a mapping with keys {list(KEYS)}")
    unknown = [k for k in data if k not in KEYS]
    if unknown:
        raise SweepSpecError(f"unknown key(s) {unknown}; allowed keys: {list(KEYS)}")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise SweepSpecError(f"missing key(s) {missing}; required: {list(REQUIRED)}")
    if not isinstance(data["name"], str) or not data["name"]:
        raise _fail("name", data["name"], KEYS["name"])
    agents = _names("agents", data["agents"], AGENTS)
    envs = _names("envs", data["envs"], ENVS)
    methods = _methods(data["methods"])
    sparsities = ()
    if "sparsities" in data:
        sparsities = _numbers("sparsities", data["sparsities"], lambda s: 0 <= s < 1)
    widths = _numbers("widths", data.get("widths", [1.0]), lambda w: w > 0)
    if any(e.match_sparsity for e in methods):
        if not sparsities:
            raise SweepSpecError(
                "methods: a matched dense entry needs 'sparsities' (one group per level)"
            )
        if widths != (1.0,):
            raise SweepSpecError(
                f"widths: a matched dense entry sets its own width; it needs widths [1.0], "
                f"not {list(widths)}"
            )
    preset = data.get("preset")
    if preset is not None and not isinstance(preset, str):
        raise _fail("preset", preset, KEYS["preset"])
    spec = SweepSpec(
        name=data["name"],
        agents=agents,
        envs=envs,
        methods=methods,
        sparsities=sparsities,
        seeds=_positive_int("seeds", data.get("seeds", 1)),
        widths=widths,
        steps=_steps(data.get("steps", 100_000), agents, envs),
        eval_interval=_optional_positive_int(data, "eval_interval"),
        eval_episodes=_positive_int("eval_episodes", data.get("eval_episodes", 10)),
        preset=preset,
        overrides=_overrides(data.get("overrides", {}), agents),
        method_options=_method_options(data.get("method_options", {}), methods),
        sweep=_sweep(data.get("sweep", {})),
        max_runs_per_group=_optional_positive_int(data, "max_runs_per_group"),
    )
    return dataclasses.replace(spec, axes=_axes(data.get("axes", {}), spec))


# ---- sweep axes ----------------------------------------------------------------------------
# Set by other keys of the spec, never by an axis.
_NOT_AXES = {"width": "widths", "sparsity": "sparsities", "seed": "seeds", "total_steps": "steps"}
ACTOR_FRACTION = "actor_fraction"


def is_actor_critic(agent: str) -> bool:
    """Whether `agent` has an actor and a critic (and so an actor_fraction)."""
    return issubclass(AGENTS[agent][0], ACTOR_CRITIC)


def agent_option_names(agent: str) -> list[str]:
    """The options of `agent`'s config."""
    return [f.name for f in dataclasses.fields(AGENTS[agent][1])]


def method_option_names(entry: MethodEntry) -> list[str]:
    """The options an axis can set on a method entry: none for dense and matched dense."""
    return [] if entry.name == "dense" else _method_fields(entry.name)


def _axes(value: Any, spec: SweepSpec) -> dict[str, tuple[Any, ...]]:
    """Each axis: an option of some agent or sparse method of the sweep (or actor_fraction for
    actor-critic agents) set nowhere else in the spec, with a non-empty list of distinct
    numbers, strings or booleans."""
    axes = _mapping("axes", value, KEYS["axes"])
    agent_options = {o for a in spec.agents for o in agent_option_names(a)} - set(_NOT_AXES)
    method_options = {o for e in spec.methods for o in method_option_names(e)}
    fraction = [ACTOR_FRACTION] if any(is_actor_critic(a) for a in spec.agents) else []
    allowed = sorted(agent_options | method_options) + fraction
    own = [spec.overrides, spec.method_options, spec.sweep]
    own += [spec.overrides.get(a, {}) for a in spec.agents] + [e.options for e in spec.methods]
    for name, values in axes.items():
        key = f"axes.{name}"
        if name in _NOT_AXES:
            raise SweepSpecError(f"{key}: give it with '{_NOT_AXES[name]}', not as an axis")
        if name not in allowed:
            raise SweepSpecError(
                f"{key}: {name!r} is an option of none of the agents {list(spec.agents)} or "
                f"sparse methods of this sweep; allowed: {allowed}"
            )
        if any(name in options for options in own):
            raise SweepSpecError(
                f"{key}: {name!r} is also set in overrides, method_options, sweep or a method "
                "entry; give it in one place"
            )
        expected = "a non-empty list of numbers, strings or booleans"
        for item in _list(key, values, expected):
            if not isinstance(item, (int, float, str)):
                raise _fail(key, item, expected)
        _no_duplicates(key, list(values))
        axes[name] = tuple(values)
    return axes


def _optional_positive_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    return None if value is None else _positive_int(key, value)


def loads(text: str) -> SweepSpec:
    """A SweepSpec from YAML text."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SweepSpecError(f"not valid YAML: {error}") from None
    return parse(data)


def load(path: str | Path) -> SweepSpec:
    """A SweepSpec from a YAML file."""
    return loads(Path(path).read_text())
