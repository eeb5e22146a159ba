"""params.yaml, parsed once into typed dataclasses. Unknown keys are errors, not silently ignored."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from apollo.errors import ApolloError
from apollo.models.apollo import ApolloConfig


class ConfigError(ApolloError):
    pass


@dataclass(frozen=True)
class ModelCardParams:
    out: str = "data/model/card.json"


@dataclass(frozen=True)
class Params:
    model: ApolloConfig = field(default_factory=ApolloConfig)
    model_card: ModelCardParams = field(default_factory=ModelCardParams)


def _build(cls, section: str, values) -> object:
    if values is None:
        return cls()
    if not isinstance(values, dict):
        raise ConfigError(f"params: section '{section}' must be a mapping")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"params: unknown key(s) in '{section}': {', '.join(unknown)}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"params: bad '{section}' section ({e})") from None


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"params: cannot read {path} ({e})") from None
    sections = {f.name: f.type for f in dataclasses.fields(Params)}
    unknown = sorted(set(raw) - set(sections))
    if unknown:
        raise ConfigError(f"params: unknown section(s) in {path}: {', '.join(unknown)}")
    types = {"model": ApolloConfig, "model_card": ModelCardParams}
    return Params(**{name: _build(types[name], name, raw.get(name)) for name in sections})
