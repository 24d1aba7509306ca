"""What may become part of a path: run names, run ids, sweep ids, preset names. Checked before any use.

A name is 1-64 characters from [A-Za-z0-9._-], not starting with '.', '_' or '-' (so no '..', no hidden
files, nothing that looks like an option, and nothing the store uses itself, such as _sweeps).
"""

from __future__ import annotations

import re
from pathlib import Path

from sslbench.core.errors import ConfigError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # run ids: a timestamp, a name and a random suffix


def check_name(value: str, what: str) -> str:
    """value if it is a safe name, else ConfigError naming `what` and the rule."""
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise ConfigError(f"{what}={_show(value)} must be 1-64 characters of letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit")
    return value


def check_id(value: str, what: str = "run id") -> str:
    """value if it can name an entry of the store (an id or the prefix of one), else ConfigError."""
    if not isinstance(value, str) or not ID.fullmatch(value):
        raise ConfigError(f"{what} {_show(value)} is not a valid id (letters, digits, '.', '_', '-'; "
                          "no paths, at most 128 characters)")
    return value


def inside(root: Path, path: Path) -> Path:
    """path, resolved, if it lies strictly inside root (symlinks followed); else ConfigError."""
    r, p = root.resolve(), path.resolve()
    if p == r or r not in p.parents:
        raise ConfigError(f"{path} is outside the run store {root}")
    return p


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 70 else text[:60] + "...'"
