"""A sweep spec: agents x envs x methods x widths x sparsities x seeds, read from YAML or a dict
and checked key by key, so a typo fails before any run starts."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from sparserl.agents import AGENTS, SWEEPABLE, AgentConfigError, agent_config, agent_entry
from sparserl.envs import ENVS
from sparserl.experiment import GRID_OPTIONS, TrainSpec
from sparserl.sparsity import (
    METHODS,
    SPARSITY_RANGE,
    SparsityConfigError,
    check_option,
    option_names,
)
from sparserl.validation import check_value, is_a, non_negative, open_unit, positive

# Every top-level key with the type it takes, for the error messages (the registries' names
# are listed where a name is unknown, so agents and methods registered later are included).
KEYS: dict[str, str] = {
    "name": "a string",
    "agents": "a non-empty list of agent names",
    "envs": "a non-empty list of environment ids",
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
    "save_networks_every": "a positive integer: also save every run's networks after every k-th "
    "evaluation",
    "diagnostics_every": "a non-negative integer: probe the networks at every k-th evaluation "
    "(0: off)",
    "diagnostics_batch": "a positive integer: examples in the probe's batch",
    "axes": "a mapping from agent options, sparse-method options or 'actor_fraction' to non-empty "
    "lists of values: one group (its own program) per value",
}
REQUIRED = ("name", "agents", "envs", "methods")
# What the YAML loader reads: a spec is a few kilobytes of plain lists and mappings.
MAX_SPEC_BYTES = 1 << 20
MAX_DEPTH = 20


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
    # Also save every run's networks after every k-th evaluation (the final ones always).
    save_networks_every: int | None = None
    # The in-loop probe: every k-th evaluation (0: off) on this many examples (None: the
    # agent's training minibatch); TrainSpec's defaults.
    diagnostics_every: int = TrainSpec.diagnostics_every
    diagnostics_batch: int | None = None

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
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return SweepSpecError(f"{key}: expected {expected}, got {text} ({type(value).__name__})")


def _positive_int(key: str, value: Any) -> int:
    if not is_a(int, value) or not positive(value):
        raise _fail(key, value, "a positive integer")
    return value


def _non_negative_int(key: str, value: Any) -> int:
    if not is_a(int, value) or not non_negative(value):
        raise _fail(key, value, "a non-negative integer")
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
        if not is_a(float, number) or not valid(number):
            raise _fail(key, number, expected)
    _no_duplicates(key, numbers)
    return tuple(float(n) for n in numbers)


def _no_duplicates(key: str, items: list[Any]) -> None:
    repeated = [item for i, item in enumerate(items) if item in items[:i]]
    if repeated:
        raise SweepSpecError(f"{key}: {repeated} listed more than once")


def _method_fields(name: str) -> list[str]:
    """The options a method entry may set (sparsity and run length come from the grid)."""
    return [f for f in option_names(name) if f not in GRID_OPTIONS]


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
    _check_method_options(key, [name], entry)
    return MethodEntry(name, _tuples(entry), match)


def _check_method_options(key: str, names: list[str], options: dict[str, Any]) -> None:
    """Each option's value against its declaration in every method of `names` that has it."""
    for option, value in options.items():
        for name in names:
            if option in option_names(name):
                try:
                    check_option(name, option, value)
                except SparsityConfigError as error:
                    raise SweepSpecError(f"{key}.{option}: {error}") from None


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
    _check_method_options("method_options", sparse, options)
    return _tuples(options)


def _agent_configs(
    agents: tuple[str, ...], envs: tuple[str, ...], preset: str | None, overrides: dict[str, Any]
) -> None:
    """Build every agent's config on every env (preset, then overrides) as `resolve` will, so a
    bad option fails here, by key, before any group is expanded."""
    shared = {k: v for k, v in overrides.items() if k not in AGENTS}
    for agent in agents:
        options = {**shared, **overrides.get(agent, {})}
        for env in envs:
            try:
                agent_config(agent, ENVS[env], preset, options)
            except AgentConfigError as error:
                key = "overrides" if options else "preset"
                raise SweepSpecError(f"{key}: {agent} on {env}: {error}") from None


def _sweep(value: Any, agents: tuple[str, ...]) -> dict[str, tuple[float, ...]]:
    """Swept values: numbers, each in the range its agent option declares, none twice."""
    sweep = _mapping("sweep", value, KEYS["sweep"])
    for name in sweep:
        if name not in SWEEPABLE:
            raise SweepSpecError(f"sweep: {name!r} cannot be swept; choose from {list(SWEEPABLE)}")
    out = {}
    for name, values in sweep.items():
        out[name] = _numbers(f"sweep.{name}", values, lambda _: True)
        for number in out[name]:
            for agent in agents:
                try:
                    check_value(agent_entry(agent).config, name, number, ValueError)
                except ValueError as error:
                    raise SweepSpecError(f"sweep.{name}: {error}") from None
    return out


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
        sparsities = _numbers("sparsities", data["sparsities"], SPARSITY_RANGE)
    widths = _numbers("widths", data.get("widths", [1.0]), positive)
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
    overrides = _overrides(data.get("overrides", {}), agents)
    _agent_configs(agents, envs, preset, overrides)
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
        overrides=overrides,
        method_options=_method_options(data.get("method_options", {}), methods),
        sweep=_sweep(data.get("sweep", {}), agents),
        max_runs_per_group=_optional_positive_int(data, "max_runs_per_group"),
        save_networks_every=_optional_positive_int(data, "save_networks_every"),
        diagnostics_every=_non_negative_int(
            "diagnostics_every", data.get("diagnostics_every", TrainSpec.diagnostics_every)
        ),
        diagnostics_batch=_optional_positive_int(data, "diagnostics_batch"),
    )
    return dataclasses.replace(spec, axes=_axes(data.get("axes", {}), spec))


# ---- sweep axes ----------------------------------------------------------------------------
# Set by other keys of the spec, never by an axis.
_NOT_AXES = {"width": "widths", "sparsity": "sparsities", "seed": "seeds", "total_steps": "steps"}
ACTOR_FRACTION = "actor_fraction"


def is_actor_critic(agent: str) -> bool:
    """Whether `agent` has an actor and a critic (and so an actor_fraction)."""
    return agent_entry(agent).family != "value"


def agent_option_names(agent: str) -> list[str]:
    """The options of `agent`'s config."""
    return [f.name for f in dataclasses.fields(agent_entry(agent).config)]


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
            _check_axis_value(key, name, item, spec)
        _no_duplicates(key, list(values))
        axes[name] = tuple(values)
    return axes


def _check_axis_value(key: str, name: str, value: Any, spec: SweepSpec) -> None:
    """`value` must fit option `name` as each agent and sparse method of the sweep that has it
    declares it (type and range); actor_fraction must lie in (0, 1)."""
    if name == ACTOR_FRACTION:
        if not is_a(float, value) or not open_unit(value):
            raise _fail(key, value, "a number in (0, 1)")
        return
    try:
        for agent in spec.agents:
            if name in agent_option_names(agent):
                check_value(agent_entry(agent).config, name, value, ValueError)
        for entry in spec.methods:
            if name in method_option_names(entry):
                check_option(entry.name, name, value)
    except ValueError as error:
        raise SweepSpecError(f"{key}: {error}") from None


def _optional_positive_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    return None if value is None else _positive_int(key, value)


class _SpecLoader(yaml.SafeLoader):
    """PyYAML's safe loader for sweep specs: no aliases (a few nested ones expand to gigabytes),
    nesting at most MAX_DEPTH deep, no key twice in a mapping, and 1e-3 read as a number."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise SweepSpecError(
                f"{_where(event.start_mark)}YAML aliases (*{event.anchor}) are not allowed in a "
                "sweep spec; write the values out"
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise SweepSpecError(
                    f"{_where(self.peek_event().start_mark)}nested more than {MAX_DEPTH} deep"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(k, deep=True) for k, _ in node.value]
        for i, key in enumerate(keys):
            if key in keys[:i]:
                mark = node.value[i][0].start_mark
                raise SweepSpecError(f"{_where(mark)}key {key!r} given twice")
        return super().construct_mapping(node, deep)


# YAML 1.1 reads 1e-3 (no dot) as a string; a spec means the number.
_SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}: "


def loads(text: str) -> SweepSpec:
    """A SweepSpec from YAML text; every problem is a one-line SweepSpecError."""
    try:
        data = yaml.load(text, Loader=_SpecLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context
        raise SweepSpecError(f"not valid YAML: {_where(mark) if mark else ''}{problem}") from None
    except yaml.YAMLError as error:
        raise SweepSpecError(f"not valid YAML: {' '.join(str(error).split())}") from None
    return parse(data)


def load(path: str | Path) -> SweepSpec:
    """A SweepSpec from a UTF-8 YAML file of at most MAX_SPEC_BYTES; a file that cannot be
    read is a one-line SweepSpecError naming the path."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SPEC_BYTES + 1)
    except OSError as error:
        raise SweepSpecError(f"{path}: cannot read the spec ({error.strerror})") from None
    if len(data) > MAX_SPEC_BYTES:
        raise SweepSpecError(f"{path}: larger than {MAX_SPEC_BYTES:,} bytes; not a sweep spec")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SweepSpecError(
            f"{path}: not a UTF-8 text file (byte {data[error.start]:#04x} at offset "
            f"{error.start}); a sweep spec is YAML text"
        ) from None
    try:
        return loads(text)
    except SweepSpecError as error:
        raise SweepSpecError(f"{path}: {error}") from None
