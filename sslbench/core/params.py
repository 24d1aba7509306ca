"""`Param`: one declared setting (type, default, range, help). The CLI validator, `sslbench methods` and the
workbench's form are all generated from these declarations."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sslbench.core.errors import ConfigError, suggest

INT_MAX = 2**31 - 1  # an int without a declared maximum still has this one (no 10^21 steps, no overflow later)
STR_MAX = 1024


@dataclass(frozen=True)
class Param:
    """One declared setting: what the CLI validates and the TUI renders as a field."""

    name: str
    type: type
    default: Any
    help: str = ""
    lo: float | None = None
    hi: float | None = None
    choices: tuple[Any, ...] | None = None
    item: type = int  # element type of a list param

    def check(self, value: Any, where: str = "") -> Any:
        """Coerce value to this param's type and check it; raise ConfigError naming the key and the rule."""
        label = f"{where}{self.name}"
        value = _coerce(value, self.type, self.item, label)
        if self.choices is not None and value not in self.choices:
            hint = suggest(str(value), [str(c) for c in self.choices])
            raise ConfigError(f"{label}={value!r} is not one of {', '.join(map(str, self.choices))}{hint}")
        if self.type in (int, float):
            hi = self.hi if self.hi is not None else (INT_MAX if self.type is int else None)
            if self.lo is not None and value < self.lo:
                raise ConfigError(f"{label}={value} is below its minimum {self.lo}")
            if hi is not None and value > hi:
                raise ConfigError(f"{label}={value} is above its maximum {hi}")
        if self.type is list:
            for v in value:
                if self.item is int and (v < (self.lo or 0) or v > INT_MAX):
                    raise ConfigError(f"{label} holds {v}, outside [{self.lo or 0}, {INT_MAX}]")
        return value

    def range_text(self) -> str:
        """'a|b|c' for choices, '[lo, hi]' for numbers, '' otherwise (for help tables and form hints)."""
        if self.choices:
            return "|".join(map(str, self.choices))
        if self.type in (int, float):
            return f"[{'' if self.lo is None else self.lo}, {'' if self.hi is None else self.hi}]"
        return ""


def _coerce(value: Any, typ: type, item: type, label: str) -> Any:
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if typ is list:
        if not isinstance(value, list) or not all(_is(v, item) for v in value):
            raise ConfigError(f"{label} must be a list of {item.__name__}s, got {_short(value)}")
        if item is str:
            for v in value:
                _check_str(v, label)
        return value
    if not _is(value, typ):
        raise ConfigError(f"{label} must be {typ.__name__}, got {type(value).__name__} {_short(value)}")
    if typ is float and not math.isfinite(value):
        raise ConfigError(f"{label}={value} must be a finite number")
    if typ is str:
        _check_str(value, label)
    return value


def _is(value: Any, typ: type) -> bool:
    if typ is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, typ)


def _check_str(value: str, label: str) -> None:
    if len(value) > STR_MAX:
        raise ConfigError(f"{label} is {len(value)} characters long (at most {STR_MAX})")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ConfigError(f"{label}={_short(value)} contains a control character (newline, tab, NUL...)")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:50] + "..."
