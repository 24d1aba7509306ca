"""Method registry: one file per method, each declaring its parameters (PARAMS)."""

from __future__ import annotations

from sslbench.config import ConfigError, Param
from sslbench.methods.common import Method

_MODULES = ("supervised", "fixmatch", "fixmatch_kmeans", "flexmatch", "kmeans", "mutual_info", "pseudo_label",
            "pi_model", "mean_teacher", "self_training", "kmeans_pseudo", "autoencoder_kmeans", "deepcluster", "ssl_gan")


def _load() -> dict[str, type[Method]]:
    import importlib

    found: dict[str, type[Method]] = {}
    for mod_name in _MODULES:
        mod = importlib.import_module(f"sslbench.methods.{mod_name}")
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, Method) and getattr(obj, "NAME", None) == mod_name:
                found[mod_name] = obj
    return found


METHODS: dict[str, type[Method]] = _load()


def get_method(name: str) -> type[Method]:
    """The Method class registered under name."""
    try:
        return METHODS[name]
    except KeyError:
        from sslbench.config import _suggest

        raise ConfigError(f"unknown method {name!r}{_suggest(name, sorted(METHODS))}") from None


def method_params(name: str) -> tuple[Param, ...]:
    """A method's declared parameters."""
    return get_method(name).PARAMS


def describe(name: str) -> str:
    """One-line description (the class docstring's first line)."""
    return (get_method(name).__doc__ or "").strip().splitlines()[0]
