"""params.yaml, checked and parsed once into the typed dataclasses of ``apollo.params``.

**One place for values.** params.yaml holds every setting, and profiles (``profiles/*.yaml``: some
sections, some keys) layer on it (``load_params(path, profiles)``, ``layer``). The dataclasses have no
defaults: a missing section or key is an error, never a value from code.

**Every setting is checked where it is read.** The flow (``apply_overrides``), the DVC stage scripts
and the CLI all go through ``build_params``, so a mistake is found before anything runs or is deleted:

* its type comes from the dataclass's type hint: an ``int`` is an integer (not ``true``, not ``"5"``),
  a ``float`` is any finite number (an integer is converted), a ``bool`` is true/false, a ``str`` is
  text; a tuple is a YAML list whose element type is the hint's or the rule's, a dict a mapping;
* its range, choices, keys or length come from ``RULES`` (``apollo.rules``), keyed ``section.field``:
  one rule for every field of every section (a test checks none is missing);
* rules across fields and sections (``cross_rules``) run once every field is right;
* unknown or missing sections and keys are errors.

Every mistake found is reported, each as one short line (long values are cut), in one ``ConfigError``;
``apollo.errors.run_command`` prints each as an ``error:`` line and exits 1.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import types
import typing
from collections.abc import Iterable
from pathlib import Path

import yaml

from apollo.errors import ApolloError
from apollo.params import Params
from apollo.rules import ANY, RULES, Rule, cross_rules


PROJECT = Path(__file__).resolve().parents[1]  # the checkout this package runs from


class ConfigError(ApolloError):
    """One or more mistakes in the params (a file or overrides), each a one-line message."""

    def __init__(self, *messages: str):
        super().__init__(*messages)  # args: the messages, so the error pickles (Prefect, process pools)

    def messages(self) -> list[str]:
        return [str(m) for m in self.args]

    def __str__(self) -> str:
        return "\n".join(self.messages())


# ---------------------------------------------------------------------------------------------------------------
# The checker

TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "text"}
LIST_NAMES = {bool: "true/false values", int: "integers", float: "numbers", str: "texts"}


def _cut(text: str, limit: int = 60) -> str:
    """One short line: never a huge value in a message."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show(value) -> str:
    return "null" if value is None else _cut(repr(value))


def _hint(kind: type, value) -> str:
    """Why YAML gave something else than what was probably meant."""
    if kind is str and isinstance(value, bool):
        return " (YAML reads a bare no/yes/off/on as false/true: quote it)"
    if kind in (int, float) and isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return " (YAML reads it as text: unquote it, and write exponents with a dot, e.g. 1.0e-3)"
    return ""


class _Findings:
    def __init__(self):
        self.errors: list[str] = []

    def add(self, where: str, message: str) -> None:  # where: the field, for the reader of this code
        self.errors.append(f"params: {message}")


YAML12_EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _scalar(kind: type, value):
    """(ok, the value as the dataclass holds it) for bool, int, float and str (None: any, no rule says)."""
    if kind is None:
        return True, value
    if kind is bool:
        return isinstance(value, bool), value
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if kind is float:
        if isinstance(value, str) and YAML12_EXPONENT.fullmatch(value.strip()):
            value = float(value)  # 1e-05: a float in YAML 1.2 (DVC writes it so), text to PyYAML's YAML 1.1
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False, value
        try:
            held = float(value)
        except OverflowError:  # an integer beyond any float
            return False, value
        return math.isfinite(held), held
    if kind is str:
        return isinstance(value, str), value
    raise TypeError(f"no checker for {kind}")  # a new hint type needs a line here


def _limits(rule: Rule, value) -> str | None:
    """What `value` (of the right type) breaks in `rule`, as "must be ..."; None if nothing."""
    if rule.choices and value not in rule.choices:
        return "must be one of " + ", ".join(map(_show, rule.choices))
    below = rule.lo is not None and (value <= rule.lo if rule.lo_open else value < rule.lo)
    above = rule.hi is not None and (value >= rule.hi if rule.hi_open else value > rule.hi)
    if below or above:
        if rule.hi is None:
            return f"must be {'>' if rule.lo_open else '>='} {rule.lo:g}"
        if rule.lo is None:
            return f"must be {'<' if rule.hi_open else '<='} {rule.hi:g}"
        return f"must be in {'(' if rule.lo_open else '['}{rule.lo:g}, {rule.hi:g}{')' if rule.hi_open else ']'}"
    if rule.nonempty and isinstance(value, str) and not value.strip():
        return "must not be empty"
    return rule.test(value) if rule.test else None


def _one(label: str, kind: type, rule: Rule, value, found: _Findings, where: str):
    """Check one scalar; (ok, value as held)."""
    ok, held = _scalar(kind, value)
    if not ok:
        found.add(where, f"{label} must be {TYPE_NAMES[kind]}, got {_show(value)}{_hint(kind, value)}")
        return False, value
    problem = _limits(rule, held)
    if problem:
        found.add(where, f"{label} {problem}, got {_show(value)}{_hint(kind, value)}")
        return False, value
    return True, held


def _field(name: str, hint, value, found: _Findings):
    """Check one field's value against its type hint and its rule; (ok, value as the dataclass holds it)."""
    rule = RULES.get(name, ANY)  # a field without a rule yet: its type is still checked (a test asks for the rule)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return True, None
        kinds = [a for a in args if a is not type(None)]
        if len(kinds) > 1:  # e.g. str | int ("auto" or a count): the first scalar type the value has
            kind = next((k for k in kinds if _scalar(k, value)[0]), None)
            if kind is None:
                found.add(name, f"{name} must be {' or '.join(TYPE_NAMES[k] for k in kinds)}, got {_show(value)}")
                return False, value
            return _one(name, kind, rule, value, found, name)
        (hint,) = kinds
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    kind = origin or hint
    if kind is tuple:
        item = args[0] if args else rule.item
        if not isinstance(value, (list, tuple)):
            found.add(name, f"{name} must be a list of {LIST_NAMES.get(item, 'values')}, got {_show(value)}")
            return False, value
        oks = [_one(f"{name}[{i}]", item, rule.each or ANY, v, found, name) for i, v in enumerate(value)]
        ok = all(o for o, _ in oks)
        held = tuple(v for _, v in oks)
        shape = (
            f"must have {rule.length} elements" if rule.length is not None and len(value) != rule.length
            else "must not be empty" if rule.nonempty and not value
            else "must not repeat a value" if rule.unique and ok and len(set(held)) < len(held) else None
        )  # fmt: skip
        if shape:
            found.add(name, f"{name} {shape}, got {_show(value)}")
        return ok and not shape, held
    if kind is dict:
        if not isinstance(value, dict):
            found.add(name, f"{name} must be a mapping, got {_show(value)}")
            return False, value
        ok, held = True, {}
        unknown = [k for k in value if k not in rule.keys] if rule.keys else []
        missing = [k for k in rule.keys if k not in value] if rule.all_keys else []
        if unknown:
            choose = ", ".join(rule.keys)
            found.add(name, f"{name}: unknown key(s) {', '.join(map(_show, unknown))}; choose from {choose}")
        if missing:
            found.add(name, f"{name}: missing key(s) {', '.join(missing)}")
        if rule.nonempty and not value:
            found.add(name, f"{name} must not be empty")
        for k, v in value.items():
            if k in unknown:
                continue
            good, held[k] = _one(f"{name}.{k}", rule.item, rule.each or ANY, v, found, name)
            ok = ok and good
        return ok and not unknown and not missing and bool(value or not rule.nonempty), held
    if value is None:
        found.add(name, f"{name} must be {TYPE_NAMES[kind]}, got null")
        return False, value
    return _one(name, kind, rule, value, found, name)


def _section(cls, where: str, values, found: _Findings):
    """An instance of dataclass `cls` from `values`, every field checked; None if anything in it is wrong."""
    if not isinstance(values, dict):
        found.add(where, f"'{where}' must be a mapping, got {_show(values)}")
        return None
    hints = typing.get_type_hints(cls)
    unknown = [k for k in values if k not in hints]
    if unknown:
        found.add("", f"unknown key(s) in '{where}': {', '.join(sorted(map(str, unknown)))}")
    missing = [k for k in hints if k not in values]
    if missing:  # params.yaml writes every value: a missing one would otherwise need a default in code
        found.add(where, f"missing key(s) in '{where}': {', '.join(missing)}")
    kwargs, ok = {}, not unknown and not missing
    for key, value in values.items():
        if key not in hints:
            continue
        name = f"{where}.{key}"
        if dataclasses.is_dataclass(hints[key]):
            kwargs[key] = _section(hints[key], name, value, found)
            ok = ok and kwargs[key] is not None
            continue
        good, kwargs[key] = _field(name, hints[key], value, found)
        ok = ok and good
    if not ok:
        return None
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:  # a check the rules do not have yet (e.g. the band split of the STFT)
        found.add(where, f"bad '{where}' section: {_cut(e, 120)}")
        return None


def build_params(raw: dict) -> Params:
    """Check raw params (a mapping of every section, each with every key) and parse them; every mistake is in
    the one ConfigError raised."""
    if not isinstance(raw, dict):
        raise ConfigError(f"params must be a mapping of sections, got {_show(raw)}")
    found = _Findings()
    sections = typing.get_type_hints(Params)
    unknown = [k for k in raw if k not in sections]
    if unknown:
        found.add("", f"unknown section(s): {', '.join(sorted(map(str, unknown)))}")
    missing = [k for k in sections if raw.get(k) is None]
    if missing:
        found.add("", f"missing section(s): {', '.join(missing)} (the pipeline reads every section)")
    parsed = {k: _section(sections[k], k, v, found) for k, v in raw.items() if k in sections and v is not None}
    if found.errors:
        raise ConfigError(*found.errors)
    params = Params(**{k: parsed[k] for k in sections})
    for fields, problem in cross_rules(params):
        if problem:
            found.add("", problem)
    if found.errors:
        raise ConfigError(*found.errors)
    return params


def read_raw(path: str | Path = "params.yaml") -> dict:
    """A params or profile file as PyYAML (as the stages) reads it: a non-empty mapping of sections, unchecked."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"params: cannot read {path} ({_cut(e, 160)})") from None
    if raw is None:
        raise ConfigError(f"params: {path} is empty")
    if not isinstance(raw, dict):
        raise ConfigError(f"params: {path} must be a mapping of sections, got {_show(raw)}")
    return raw


def layer(base: dict, profile: dict, cls=Params) -> dict:
    """`profile` (e.g. profiles/paper.yaml: some sections, some keys) over `base`, on a copy.

    Sections, and nested sections such as ``train.loss``, merge key by key; any other value, a mapping-valued
    setting such as ``shards.codecs`` included, is replaced whole (as ``dvc exp run -S`` with ``~`` does)."""
    out = copy.deepcopy(base)
    hints = typing.get_type_hints(cls) if dataclasses.is_dataclass(cls) else {}
    for key, value in profile.items():
        sub = hints.get(key)
        if dataclasses.is_dataclass(sub) and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = layer(out[key], value, sub)
        else:
            out[key] = copy.deepcopy(value)
    return out


def profile_overrides(profile: dict, prefix: str = "", cls=Params) -> list[str]:
    """A profile as `section.key=value` overrides (values in YAML flow style), for `apply_overrides`."""
    hints = typing.get_type_hints(cls) if dataclasses.is_dataclass(cls) else {}
    out = []
    for key, value in profile.items():
        sub = hints.get(key)
        if dataclasses.is_dataclass(sub) and isinstance(value, dict):
            out += profile_overrides(value, f"{prefix}{key}.", sub)
        else:
            out.append(f"{prefix}{key}=" + yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip())
    return out


def load_raw(path: str | Path = "params.yaml", profiles: Iterable[str | Path] = ()) -> dict:
    """A params file with profile files layered on it, in order; unchecked."""
    raw = read_raw(path)
    for profile in profiles:
        raw = layer(raw, read_raw(profile))
    return raw


def load_params(path: str | Path = "params.yaml", profiles: Iterable[str | Path] = ()) -> Params:
    """Read, layer and check params: what the stage scripts, the flows and the CLI all read."""
    return build_params(load_raw(path, profiles))


def project_params(*profiles: str, project: str | Path = PROJECT) -> Params:
    """The project's params.yaml with profiles/<name>.yaml layered on it, in order (benchmarks, tests)."""
    project = Path(project)
    return load_params(project / "params.yaml", [project / "profiles" / f"{name}.yaml" for name in profiles])


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """`section.key=value` assignments (values in YAML, as `dvc exp run -S`) on a copy of raw params.

    The result is checked as the pipeline will read it before it is returned, so nothing is written from a bad
    override; all mistakes are reported together."""
    raw = copy.deepcopy(raw)
    problems = []
    for item in overrides:
        key, sep, text = item.partition("=")
        names = key.strip().split(".")
        if not sep or not key.strip() or not all(names):
            problems.append(f"params: override {_show(item)} is not key=value")
            continue
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            problems.append(f"params: override {_show(item)}: the value is not valid YAML")
            continue
        *parents, leaf = names
        node = raw
        for depth, name in enumerate(parents):
            child = node.setdefault(name, {})
            if child is None:  # an empty section in the file
                child = node[name] = {}
            if not isinstance(child, dict):
                problems.append(f"params: override {_show(item)}: '{'.'.join(names[: depth + 1])}' is not a section")
                break
            node = child
        else:
            node[leaf] = value
    try:
        build_params(raw)  # unknown keys and bad values fail here, before anything is written
    except ConfigError as e:
        problems += e.messages()
    if problems:
        raise ConfigError(*problems)
    return raw
