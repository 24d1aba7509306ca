"""Presets: TOML files that set any part of a run config. Shipped ones live inside the package
(sslbench/presets, installed with the wheel); user presets live in $SSLBENCH_PRESETS or
~/.config/sslbench/presets and shadow shipped ones of the same name. A path to a .toml file works too."""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from sslbench.core.errors import ConfigError, suggest
from sslbench.core.names import NAME


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


def sweep_grid(preset: str) -> dict[str, Any]:
    """A preset's optional [sweep] table: methods, m and seeds, the grid `sslbench sweep --preset` runs by default,
    and per_method, the settings one method's cells take on top of the preset (e.g. its paper's network), as
    {method: [(dotted key, value), ...]}; the values are checked when the cells' configs are built."""
    path = find_preset(preset)
    grid = read_toml(path).get("sweep", {})
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
