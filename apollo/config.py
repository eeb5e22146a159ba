"""params.yaml, parsed once into typed dataclasses. Unknown keys are errors, not silently ignored.

Paths live once: the SAD stage reads ``sources.root``, the shards stage reads the
index that ``sad.out`` holds; nothing repeats a path.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from apollo.audio.activity import SADParams
from apollo.data.shards import ShardParams, ShardsConfig
from apollo.data.sources import SourceParams
from apollo.data.synth import SynthParams
from apollo.errors import ApolloError
from apollo.evaluate import EvalParams
from apollo.models.apollo import ApolloConfig
from apollo.train import TrainParams


class ConfigError(ApolloError):
    pass


@dataclass(frozen=True)
class ModelCardParams:
    out: str = "data/model/card.json"


@dataclass(frozen=True)
class SadConfig:
    out: str = "data/sad"
    workers: int = 0
    detection: SADParams = field(default_factory=SADParams)


@dataclass(frozen=True)
class Params:
    model: ApolloConfig = field(default_factory=ApolloConfig)
    model_card: ModelCardParams = field(default_factory=ModelCardParams)
    synth: SynthParams = field(default_factory=SynthParams)
    sources: SourceParams = field(default_factory=SourceParams)
    sad: SadConfig = field(default_factory=SadConfig)
    shards: ShardsConfig = field(default_factory=ShardsConfig)
    train: TrainParams = field(default_factory=TrainParams)
    evaluate: EvalParams = field(default_factory=EvalParams)

    @property
    def generator_path(self) -> Path:
        """The trained generator the pipeline produces (and `apollo restore` uses by default)."""
        return Path(self.train.out) / "generator.safetensors"

    def shard_params(self) -> ShardParams:
        """The shards stage's arguments: its section plus the SAD index it reads."""
        values = dataclasses.asdict(self.shards)
        return ShardParams(index=str(Path(self.sad.out) / "index.json"), **values)


def _build(cls, where: str, values):
    if values is None:
        return cls()
    if not isinstance(values, dict):
        raise ConfigError(f"params: '{where}' must be a mapping")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        place = f"key(s) in '{where}'" if where else "section(s)"
        raise ConfigError(f"params: unknown {place}: {', '.join(unknown)}")
    kwargs = {}
    for key, value in values.items():
        kind = hints[key]
        if dataclasses.is_dataclass(kind):
            value = _build(kind, f"{where}.{key}" if where else key, value)
        elif isinstance(value, list):
            value = tuple(value)  # frozen dataclasses hold tuples
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"params: bad '{where}' section ({e})") from None


def read_raw(path: str | Path = "params.yaml") -> dict:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"params: cannot read {path} ({e})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"params: {path} must be a mapping of sections")
    return raw


def build_params(raw: dict) -> Params:
    return _build(Params, "", raw)


def load_params(path: str | Path = "params.yaml") -> Params:
    return build_params(read_raw(path))


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """`section.key=value` assignments (values in YAML, as `dvc exp run -S`) on a copy of raw params."""
    import copy

    raw = copy.deepcopy(raw)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"params: override '{item}' is not key=value")
        *parents, leaf = key.strip().split(".")
        node = raw
        for name in parents:
            node = node.setdefault(name, {})
            if not isinstance(node, dict):
                raise ConfigError(f"params: override '{item}': '{name}' is not a section")
        node[leaf] = yaml.safe_load(value)
    build_params(raw)  # unknown keys and bad values fail here, before anything is written
    return raw
