"""The agent registry: each agent's module registers its class, config class and presets with
`register_agent`; agents are then built by name from a preset plus user overrides.

The registry imports no agent module (they import it), so a user's agent registers from its
own file exactly as the built-in ones do from theirs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from sparserl.agents.config import AgentConfig
from sparserl.agents.errors import AgentConfigError

FAMILIES = ("value", "off_policy", "on_policy")  # the training loop each kind of agent needs
# A preset's sparse-method side for an environment id: {"method", "options", "networks"}.
MethodPreset = Callable[[str], dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class AgentEntry:
    """A registered agent: its class (whose `family` and `network_names` say which loop trains
    it and which networks get a sparse method each), its config class and its presets."""

    name: str
    agent: type
    config: type[AgentConfig]
    presets: Mapping[str, Mapping[str, Any]]  # preset -> config overrides
    env_presets: Mapping[str, Mapping[str, Any]]  # preset -> environment options it changes
    method_presets: Mapping[str, MethodPreset]  # preset -> its sparse-method side

    @property
    def family(self) -> str:
        """The training loop of this agent: "value", "off_policy" or "on_policy"."""
        return self.agent.family

    @property
    def networks(self) -> tuple[str, ...]:
        """The agent's network names, each with its own sparse method: ("online",) for value
        agents, ("actor", "critic") for actor-critic ones."""
        return self.agent.network_names


_REGISTRY: dict[str, AgentEntry] = {}
# Agent name -> AgentEntry, in registration order: a live, read-only view of the registry.
AGENTS: Mapping[str, AgentEntry] = MappingProxyType(_REGISTRY)


def register_agent(
    agent: type,
    config: type[AgentConfig],
    presets: Mapping[str, Mapping[str, Any]],
    *,
    env_presets: Mapping[str, Mapping[str, Any]] | None = None,
    method_presets: Mapping[str, MethodPreset] | None = None,
) -> AgentEntry:
    """Make `agent` known by its `name` (a class constant) to `make_agent`, `train`, sweep
    specs and the CLI. `presets` maps preset names (an environment family such as
    "classic_control", an environment id, or a paper's name) to config overrides; the
    preset named like an environment's id, else its family, is the default on it.
    `env_presets` and `method_presets` give the environment options and sparse-method side
    of some presets. Every preset's overrides are checked against `config` now."""
    name = vars(agent).get("name")
    if not isinstance(name, str) or not name:
        raise AgentConfigError(
            f"{agent.__name__} must set its own name as a class constant, "
            f"name: ClassVar[str] = '...', got {name!r}"
        )
    family = getattr(agent, "family", None)
    if family not in FAMILIES:
        raise AgentConfigError(
            f"{agent.__name__}.family must be one of {list(FAMILIES)}, got {family!r}; "
            "subclass ValueAgent, OffPolicyAgent or PPO"
        )
    if not (isinstance(config, type) and issubclass(config, AgentConfig)):
        raise AgentConfigError(f"the config of agent {name!r} must subclass AgentConfig")
    entry = AgentEntry(
        name,
        agent,
        config,
        MappingProxyType({k: MappingProxyType(dict(v)) for k, v in presets.items()}),
        MappingProxyType(dict(env_presets or {})),
        MappingProxyType(dict(method_presets or {})),
    )
    for preset in [*entry.env_presets, *entry.method_presets]:
        _check_preset(entry, preset)
    for preset, overrides in entry.presets.items():
        try:
            config().replace(**overrides)
        except AgentConfigError as error:
            raise AgentConfigError(f"agent {name!r}, preset {preset!r}: {error}") from None
    known = _REGISTRY.get(name)
    if known is not None and known.agent is not agent:
        raise AgentConfigError(
            f"agent name {name!r} is taken by {known.agent.__module__}."
            f"{known.agent.__qualname__}; registered: {list(_REGISTRY)}"
        )
    _REGISTRY[name] = entry
    return entry


def unregister_agent(name: str) -> None:
    """Forget agent `name` (e.g. one a test or a notebook registered); unknown: an error."""
    agent_entry(name)
    del _REGISTRY[name]


def agent_entry(name: str) -> AgentEntry:
    """The registered agent `name`, or an error listing the registered ones."""
    if name not in _REGISTRY:
        raise AgentConfigError(f"unknown agent {name!r}; choose one of {list(_REGISTRY)}")
    return _REGISTRY[name]


def _check_preset(entry: AgentEntry, preset: str) -> None:
    if preset not in entry.presets:
        raise AgentConfigError(
            f"agent {entry.name!r} has no preset {preset!r}; choose one of {list(entry.presets)}"
        )


def default_preset(name: str, env: Any) -> str:
    """The preset an agent uses on `env` unless one is named: the environment id's own
    preset if the agent has one, else the environment family's."""
    return _preset_for(agent_entry(name), env.spec)


def _preset_for(entry: AgentEntry, env_spec: Any) -> str:
    return env_spec.env_id if env_spec.env_id in entry.presets else env_spec.family


def preset_overrides(name: str, preset: str) -> dict[str, Any]:
    """The overrides of a named preset; an unknown one is an error listing the valid ones."""
    entry = agent_entry(name)
    _check_preset(entry, preset)
    return dict(entry.presets[preset])


def env_preset(name: str, preset: str | None) -> dict[str, Any]:
    """The environment options a preset changes (e.g. no sticky actions for Atari 100k), for
    the environment's construction; `{}` for the others and for `preset=None`."""
    if preset is None:
        return {}
    return dict(agent_entry(name).env_presets.get(preset, {}))


def method_preset(name: str, preset: str | None, env_id: str) -> dict[str, Any] | None:
    """The sparse-method side of a paper preset on environment `env_id`: default method,
    options for every network and per-network options (`{"method", "options", "networks"}`),
    or None."""
    build = agent_entry(name).method_presets.get(preset) if preset is not None else None
    return None if build is None else build(env_id)


def agent_config(
    name: str, env_spec: Any, preset: str | None = None, overrides: dict[str, Any] | None = None
) -> AgentConfig:
    """The config of agent `name` on the environment `env_spec` (an envs.EnvSpec) without
    building it: its default preset (or `preset`), then `overrides`, every value checked."""
    entry = agent_entry(name)
    options = preset_overrides(name, preset or _preset_for(entry, env_spec))
    options.update(overrides or {})
    return entry.config().replace(**options)


def make_agent(
    name: str, env: Any, preset: str | None = None, overrides: dict[str, Any] | None = None
) -> Any:
    """Agent `name` for `env`: its default preset (or `preset`), then `overrides`."""
    agent_cls = agent_entry(name).agent
    agent_cls.check_env(env)  # before the config: the wrong kind of env is the first error
    config = agent_config(name, env.spec, preset, overrides)
    return agent_cls.for_env(config, env)
