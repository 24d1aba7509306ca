"""Method registry: one file per method, named after it; declarations live in sslbench.core.methods."""

from __future__ import annotations

import importlib

from sslbench.core.methods import SPECS, method_spec
from sslbench.methods.common import Method


def get_method(name: str) -> type[Method]:
    """The Method class implementing `name` (imported on first use); ConfigError for an unknown name."""
    method_spec(name)
    mod = importlib.import_module(f"sslbench.methods.{name}")
    for obj in vars(mod).values():
        if isinstance(obj, type) and issubclass(obj, Method) and obj.NAME == name:
            return obj
    raise LookupError(f"sslbench/methods/{name}.py defines no Method with NAME = {name!r}")


__all__ = ["SPECS", "Method", "get_method"]
