"""The typed run config: presets + `--set key=value` overrides, resolved and validated in one place.

Every entry point (CLI flags, `--set`, preset files, the workbench's form, sweep grids, resume) goes through
`resolve`, which checks every value (type, finite, range, choices, safe names) before anything is created.
Errors are ConfigError, one line naming the key and the rule.
"""

from __future__ import annotations

import importlib.util
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from sslbench.core.datasets import check_data
from sslbench.core.errors import ConfigError, suggest
from sslbench.core.methods import SPECS as METHOD_SPECS
from sslbench.core.methods import method_spec
from sslbench.core.names import check_name
from sslbench.core.params import Param
from sslbench.core.presets import carry_over, find_preset, read_preset, read_toml
from sslbench.core.schema import RESUMABLE, SECTIONS, TOP


@dataclass
class Config:
    """The full resolved run config. Sections are plain dicts keyed by Param name."""

    data: dict[str, Any]
    method: dict[str, Any]  # {"name": ..., **method params}
    model: dict[str, Any]
    optim: dict[str, Any]
    train: dict[str, Any]
    description: str = ""
    name: str = ""
    tags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Nested dict in TOML layout (top-level keys first)."""
        out: dict[str, Any] = {"description": self.description, "name": self.name, "tags": list(self.tags)}
        for sec in ("data", "method", "model", "optim", "train"):
            out[sec] = dict(getattr(self, sec))
        return out

    def to_toml(self) -> str:
        """Serialise as a preset that reproduces this run."""
        return tomli_w.dumps(self.to_dict())


def parse_override(text: str) -> tuple[str, Any]:
    """'optim.lr=0.01' -> ('optim.lr', 0.01). Values are TOML literals; bare words are strings."""
    if not isinstance(text, str) or "=" not in text:
        raise ConfigError(f"--set {text!r} must look like key=value")
    key, raw = (s.strip() for s in text.split("=", 1))
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        value = raw
    return key, value


def resolve(raw: dict[str, Any], overrides: list[tuple[str, Any]] = (), source: str = "") -> Config:
    """Merge overrides into a raw preset dict, fill defaults and validate every field."""
    where = f"{source}: " if source else ""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}a preset must be a TOML table")
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items() if k != "sweep"}  # sweep: see sweep_grid
    for sec in (*SECTIONS, "method"):
        if sec in raw and not isinstance(raw[sec], dict):
            raise ConfigError(f"{where}[{sec}] must be a table, got {type(raw[sec]).__name__}")
    from_set: set[str] = set()  # keys given on the command line, so errors blame --set, not the preset
    raw = carry_over(raw, dict(overrides).get("method.name"), dict(overrides).get("model.name"))
    for key, value in overrides:
        sec, name = _locate(key, raw, where)
        if sec is None:
            raw[name] = value
        else:
            if not isinstance(raw.setdefault(sec, {}), dict):
                raise ConfigError(f"--set {key}: [{sec}] is not a table")
            raw[sec][name] = value
            from_set.add(f"{sec}.{name}")

    known_top = {p.name for p in TOP} | set(SECTIONS) | {"method"}
    for k in raw:
        if k not in known_top:
            raise ConfigError(f"{where}unknown key {str(k)[:60]!r}{suggest(str(k), sorted(known_top))}")
    top = {p.name: p.check(raw.get(p.name, p.default), where) for p in TOP}
    if top["name"]:
        check_name(top["name"], f"{where}name")
    sections = {sec: _check_section(raw.get(sec, {}), params, sec, where, from_set) for sec, params in SECTIONS.items()}

    mraw = dict(raw.get("method", {}))
    mname = mraw.pop("name", "supervised")
    if not isinstance(mname, str):
        raise ConfigError(f"{where}method.name must be a string, got {type(mname).__name__}")
    try:
        spec = method_spec(mname)
    except ConfigError as e:
        raise ConfigError(f"{where}{e}") from None
    method = {"name": mname, **_check_section(mraw, spec.params, "method", where, from_set)}
    cfg = Config(method=method, **sections, **top)
    _check_consistency(cfg, where)
    return cfg


def _locate(key: str, raw: dict[str, Any], where: str) -> tuple[str | None, str]:
    """Find which section a (possibly bare) override key belongs to."""
    if not key:
        raise ConfigError("--set needs a key before '='")
    if "." in key:
        sec, name = key.split(".", 1)
        if sec not in SECTIONS and sec != "method":
            raise ConfigError(f"--set {key[:60]!r}: unknown section {sec[:40]!r}"
                              f"{suggest(sec, [*SECTIONS, 'method'])}")
        return sec, name
    if key in {p.name for p in TOP}:
        return None, key
    method = raw.get("method", {}).get("name", "supervised")
    homes = [s for s, ps in SECTIONS.items() if key in {p.name for p in ps}]
    if method in METHOD_SPECS and key in {p.name for p in METHOD_SPECS[method].params}:
        homes.append("method")
    if len(homes) == 1:
        return homes[0], key
    if len(homes) > 1:
        raise ConfigError(f"{where}key {key!r} is ambiguous: write one of {', '.join(f'{h}.{key}' for h in homes)}")
    every = [f"{s}.{p.name}" for s, ps in SECTIONS.items() for p in ps]
    raise ConfigError(f"{where}unknown key {key[:60]!r}{suggest(key, every + [p.name for p in TOP])}")


def _check_section(values: dict[str, Any], params: tuple[Param, ...], sec: str, where: str,
                   from_set: set[str] = frozenset()) -> dict[str, Any]:
    names = [p.name for p in params]
    blame = lambda k: "" if f"{sec}.{k}" in from_set else where  # noqa: E731  (no file: the command line)
    for k in values:
        if k not in names:
            raise ConfigError(f"{blame(k)}unknown key '{sec}.{str(k)[:60]}'{suggest(str(k), names)}")
    return {p.name: p.check(values.get(p.name, p.default), f"{blame(p.name)}{sec}.") for p in params}


def _check_consistency(cfg: Config, where: str) -> None:
    """Checks that span fields (dataset sizes are checked by check_data)."""
    t = cfg.train
    if t["steps"] == 0 and t["epochs"] == 0:
        raise ConfigError(f"{where}set train.steps or train.epochs (both are 0)")
    dev = t["device"]
    if dev not in ("auto", "cpu") and not (dev == "cuda" or (dev.startswith("cuda:") and dev[5:].isdigit())):
        raise ConfigError(f"{where}train.device={dev!r} must be auto, cpu, cuda or cuda:N")
    spec = METHOD_SPECS[cfg.method["name"]]
    if t["draw"] == "one_set" and spec.unlabeled and not spec.one_set:  # labeled-only methods draw one set anyway
        one = ", ".join(n for n, s in METHOD_SPECS.items() if s.one_set)
        raise ConfigError(f"{where}train.draw='one_set' needs a method that pseudo-labels the pool ({one}), "
                          f"not {cfg.method['name']}")
    if cfg.method.get("manifold") == "umap" and importlib.util.find_spec("umap") is None:
        raise ConfigError(f"{where}method.manifold='umap' needs umap-learn: pip install 'sslbench[umap]'")
    d = cfg.data
    if d["labeled"] == "per_class" and not d["per_class"]:
        raise ConfigError(f"{where}data.labeled='per_class' needs data.per_class = [count per class]")


def load(preset: str | None, overrides: list[tuple[str, Any]] = ()) -> Config:
    """Resolve a preset (name or path; None = defaults) with overrides into a validated Config."""
    if preset is None:
        return resolve({}, overrides)
    path = find_preset(preset)
    return resolve(read_preset(path), overrides, source=str(path))


def load_checked(preset: str | None, overrides: list[tuple[str, Any]] = ()) -> Config:
    """load() plus the checks against the dataset itself (files present, M and per-class counts in range)."""
    cfg = load(preset, overrides)
    check_data(cfg)
    return cfg


def load_run_config(run_dir: Path, overrides: list[tuple[str, Any]] = ()) -> Config:
    """A run's saved config.toml, with the overrides a resume may make (RESUMABLE); others are refused."""
    fixed = sorted({k for k, _ in overrides if k not in RESUMABLE})
    if fixed:
        raise ConfigError(f"a resumed run keeps its config; cannot change {', '.join(fixed)} "
                          f"(may change: {', '.join(sorted(RESUMABLE))})")
    return resolve(read_toml(run_dir / "config.toml"), overrides, source=str(run_dir / "config.toml"))


def data_dir(cfg_dir: str) -> Path:
    """The data directory a config points at."""
    if cfg_dir:
        return Path(cfg_dir).expanduser()
    env = os.environ.get("SSLBENCH_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "sslbench" / "data"
