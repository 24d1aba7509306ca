"""The one error type for bad user input, and the "did you mean" helper every message uses."""

from __future__ import annotations

import difflib


class ConfigError(ValueError):
    """Bad user input: the message is one line that names the problem (the CLI prints it and exits 2)."""


def suggest(word: str, options: list[str]) -> str:
    """' (did you mean 'x'?)' for the closest option, or ''."""
    close = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
