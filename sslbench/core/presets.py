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


def sweep_grid(preset: str) -> dict[str, list]:
    """A preset's optional [sweep] table (methods, m, seeds): the grid `sslbench sweep --preset` runs by default."""
    path = find_preset(preset)
    grid = read_toml(path).get("sweep", {})
    if not isinstance(grid, dict):
        raise ConfigError(f"{path}: [sweep] must be a table")
    for k, v in grid.items():
        if k not in ("methods", "m", "seeds"):
            raise ConfigError(f"{path}: unknown key 'sweep.{k}'{suggest(k, ['methods', 'm', 'seeds'])}")
        want = str if k == "methods" else int
        if not isinstance(v, list) or not all(isinstance(x, want) and not isinstance(x, bool) for x in v):
            raise ConfigError(f"{path}: sweep.{k} must be a list of {want.__name__}s")
    return grid
