"""Presets: TOML files that set any part of a run config. Shipped ones live inside the package
(sslbench/presets, installed with the wheel); user presets live in $SSLBENCH_PRESETS or
~/.config/sslbench/presets and shadow shipped ones of the same name. A path to a .toml file works too.

A preset may build on another: `extends = "grid-mnist"` reads that preset first and lays this one's settings
over it (see `read_preset`), so a family of presets states each shared setting once."""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from sslbench.core.errors import ConfigError, suggest
from sslbench.core.methods import SPECS as METHOD_SPECS
from sslbench.core.names import NAME
from sslbench.core.schema import SECTIONS


def shipped_dir() -> Path:
    """The presets installed with the package."""
    return Path(str(resources.files("sslbench.presets")))


def user_dir() -> Path:
    """Where the user's presets live (the workbench saves there)."""
    if os.environ.get("SSLBENCH_PRESETS"):
        return Path(os.environ["SSLBENCH_PRESETS"]).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "sslbench" / "presets"


def list_presets() -> list[Path]:
    """Every preset by name, user presets shadowing shipped ones, sorted by name."""
    seen: dict[str, Path] = {}
    for folder in (shipped_dir(), user_dir()):
        for p in sorted(folder.glob("*.toml")) if folder.is_dir() else ():
            seen[p.stem] = p
    return sorted(seen.values(), key=lambda p: p.stem)


def find_preset(name_or_path: str) -> Path:
    """A preset by path (ends in .toml or contains a '/'), or by name."""
    if not isinstance(name_or_path, str) or not name_or_path:
        raise ConfigError("--preset needs a name or a .toml path")
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        p = Path(name_or_path).expanduser()
        try:
            ok = p.is_file()
        except (OSError, ValueError):
            ok = False
        if not ok:
            raise ConfigError(f"preset file {name_or_path!r} not found")
        return p
    names = [q.stem for q in list_presets()]
    if NAME.fullmatch(name_or_path):
        for p in reversed(list_presets()):
            if p.stem == name_or_path:
                return p
    raise ConfigError(f"unknown preset {name_or_path[:80]!r}{suggest(name_or_path, names)}; `sslbench presets` "
                      "lists them")


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; every way it can be unreadable becomes one ConfigError line."""
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text (a TOML preset must be)") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply") from None
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror or e}") from None


def read_preset(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A preset's settings with `extends` followed. The preset it names (a name, or a .toml path relative to this
    file) is read first; if this preset names a method that has a [sweep.per_method.<method>] table there, that
    table is laid on next (the settings a cell of that method gets in the parent's sweep) and leaves the inherited
    [sweep]; then this preset's own tables, key by key (see `layer`). `description` is never inherited: it says
    what this preset is."""
    raw = read_toml(path)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str) or not parent:
        raise ConfigError(f"{path}: extends must be a preset name or a .toml path")
    here = path.resolve()
    if len(_seen) >= 16:
        raise ConfigError(f"{path}: extends presets more than 16 deep")
    as_path = (parent.endswith(".toml") or "/" in parent) and not Path(parent).expanduser().is_absolute()
    base_path = find_preset(str(path.parent / parent) if as_path else parent)
    if base_path.resolve() == here and (shipped := shipped_dir() / f"{parent}.toml").is_file():
        base_path = shipped  # a user preset that extends the shipped one it shadows
    if base_path.resolve() in (*_seen, here):
        chain = " -> ".join(p.stem for p in (*_seen, here, base_path))
        raise ConfigError(f"{path}: extends makes a loop ({chain})")
    base = read_preset(base_path, (*_seen, here))
    base.pop("description", None)
    method = _table(raw, "method").get("name", _table(base, "method").get("name"))
    own = _table(_table(_table(base, "sweep"), "per_method"), method) if isinstance(method, str) else {}
    if own:  # laid under this preset's own settings, so it leaves the inherited sweep: those settings must win
        base = layer(base, {**own, "method": {**_table(own, "method"), "name": method}})
        base["sweep"] = {**base["sweep"], "per_method": {m: t for m, t in base["sweep"]["per_method"].items()
                                                          if m != method}}
    return layer(base, raw)


def _table(raw: Any, key: str) -> dict[str, Any]:
    """raw[key] when it is a table, else {} (a malformed file is reported where its settings are checked)."""
    value = raw.get(key) if isinstance(raw, dict) else None
    return value if isinstance(value, dict) else {}


def layer(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """`top`'s settings over `base`'s: tables merge key by key, anything else is replaced. If `top` names another
    method or network, `base` first loses what does not carry over (`carry_over`)."""
    out = carry_over(base, _table(top, "method").get("name"), _table(top, "model").get("name"))
    for k, v in top.items():
        out[k] = layer(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def carry_over(raw: dict[str, Any], method: Any = None, network: Any = None) -> dict[str, Any]:
    """A copy of a preset's settings for when `method` or `network` replaces the one it names (by --set, or by a
    preset that extends it): another method keeps only the method parameters it declares too, and another network
    starts from its own width (width means something else to every network: fastnet's 16 shrank mlp_wn 60-fold)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    if method in METHOD_SPECS and method != _table(out, "method").get("name", "supervised"):
        names = {p.name for p in METHOD_SPECS[method].params}
        out["method"] = {k: v for k, v in _table(out, "method").items() if k in names}
    default_network = next(p.default for p in SECTIONS["model"] if p.name == "name")
    if network is not None and network != _table(out, "model").get("name", default_network):
        out["model"] = {k: v for k, v in _table(out, "model").items() if k != "width"}
    return out


def sweep_grid(preset: str) -> dict[str, Any]:
    """A preset's optional [sweep] table: methods, m and seeds, the grid `sslbench sweep --preset` runs by default,
    and per_method, the settings one method's cells take on top of the preset (e.g. its paper's network), as
    {method: [(dotted key, value), ...]}; the values are checked when the cells' configs are built."""
    path = find_preset(preset)
    grid = read_preset(path).get("sweep", {})
    if not isinstance(grid, dict):
        raise ConfigError(f"{path}: [sweep] must be a table")
    for k, v in grid.items():
        if k == "per_method":
            grid[k] = _per_method(v, f"{path}: sweep.per_method")
            continue
        if k not in ("methods", "m", "seeds"):
            raise ConfigError(f"{path}: unknown key 'sweep.{k}'{suggest(k, ['methods', 'm', 'seeds', 'per_method'])}")
        want = str if k == "methods" else int
        if not isinstance(v, list) or not all(isinstance(x, want) and not isinstance(x, bool) for x in v):
            raise ConfigError(f"{path}: sweep.{k} must be a list of {want.__name__}s")
    return grid


GRID_KEYS = ("method.name", "data.m", "train.seed")  # a cell's coordinates: the grid sets them, not per_method


def _per_method(table: Any, where: str) -> dict[str, list[tuple[str, Any]]]:
    """[sweep.per_method.<method>] tables flattened to (section.key, value) overrides."""
    if not isinstance(table, dict) or not all(isinstance(t, dict) for t in table.values()):
        raise ConfigError(f"{where} must hold one table per method, e.g. [sweep.per_method.ssl_gan.model]")
    out = {}
    for meth, sections in table.items():
        pairs = []
        for sec, values in sections.items():
            if not isinstance(values, dict):
                raise ConfigError(f"{where}.{meth}.{sec} must be a table of settings, e.g. {sec} = {{ ... }}")
            pairs += [(f"{sec}.{k}", v) for k, v in values.items()]
        if clash := [k for k, _ in pairs if k in GRID_KEYS]:
            raise ConfigError(f"{where}.{meth}: {clash[0]} is a grid coordinate; set it in [sweep] or on the "
                              "command line")
        out[meth] = pairs
    return out
