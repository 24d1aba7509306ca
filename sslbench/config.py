"""Typed run config: presets (TOML), `--set key=value` overrides and validation.

A config is a few flat sections (data, method, model, optim, train). Every field carries a `Param`
(type, default, range, help); the method's own hyper-parameters come from its file's `PARAMS`.
The CLI validator and the TUI form both read these schemas. Errors are `ConfigError`, one line each.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"


class ConfigError(ValueError):
    """Bad user input: the message is one line that names the problem."""


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

    def check(self, value: Any, where: str = "") -> Any:
        """Coerce `value` to this param's type and check its range; raise ConfigError if it fails."""
        label = f"{where}{self.name}"
        value = _coerce(value, self.type, label)
        if self.choices is not None and value not in self.choices:
            hint = _suggest(str(value), [str(c) for c in self.choices])
            raise ConfigError(f"{label}={value!r} is not one of {', '.join(map(str, self.choices))}{hint}")
        if self.lo is not None and value < self.lo:
            raise ConfigError(f"{label}={value} is below its minimum {self.lo}")
        if self.hi is not None and value > self.hi:
            raise ConfigError(f"{label}={value} is above its maximum {self.hi}")
        return value


def _coerce(value: Any, typ: type, label: str) -> Any:
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typ is list:
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{label} must be a list of integers, got {value!r}")
        return value
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise ConfigError(f"{label} must be {typ.__name__}, got {type(value).__name__} {value!r}")
    return value


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --------------------------------------------------------------------------- schema of the sections

DATA = (
    Param("dataset", str, "digits", "digits, mnist, fashion-mnist, cifar10, or folder (class sub-folders of images)"),
    Param("dir", str, "", "data directory; empty means $SSLBENCH_DATA or ~/.cache/sslbench/data"),
    Param("m", int, 50, "number of labeled training images (M)", lo=0),
    Param("labeled", str, "balanced", "how the M labeled images are chosen", choices=("balanced", "first", "per_class")),
    Param("per_class", list, [], "explicit labeled count per class (with labeled = 'per_class')"),
    Param("subset", int, 0, "use only the first N training images, e.g. a quick MNIST slice (0: all)", lo=0),
    Param("val", int, 0, "images held out of train as a validation split (0: evaluate on the test set)", lo=0),
    Param("strong_ops", int, 2, "RandAugment ops per strong view", lo=0, hi=8),
    Param("cutout", float, 0.5, "cutout square side as a fraction of the image side (strong view)", lo=0.0, hi=1.0),
    Param("size", int, 32, "image side for the folder dataset (resized)", lo=8, hi=512),
)
MODEL = (
    Param("name", str, "fastnet", "network: cnn, convnet4, fastnet, wrn28_2, mlp"),
    Param("width", int, 0, "base width (0: the model's default)", lo=0, hi=1024),
)
OPTIM = (
    Param("name", str, "sgd", "optimiser", choices=("sgd", "adam")),
    Param("lr", float, 0.03, "peak learning rate", lo=0.0, hi=10.0),
    Param("momentum", float, 0.9, "SGD momentum", lo=0.0, hi=1.0),
    Param("nesterov", bool, True, "Nesterov momentum (SGD)"),
    Param("weight_decay", float, 5e-4, "L2 weight decay", lo=0.0, hi=1.0),
    Param("schedule", str, "cosine", "learning-rate schedule", choices=("cosine", "constant")),
    Param("warmup", int, 0, "linear warm-up steps", lo=0),
    Param("ema", float, 0.999, "EMA decay of weights used for evaluation (0: off)", lo=0.0, hi=0.99999),
)
TRAIN = (
    Param("batch", int, 64, "labeled batch size B", lo=1, hi=65536),
    Param("mu", int, 7, "unlabeled batch is mu x B", lo=0, hi=64),
    Param("steps", int, 0, "training steps (0: use epochs)", lo=0),
    Param("epochs", int, 0, "epochs over the unlabeled pool, or the labeled set without one (0: use steps)", lo=0),
    Param("eval_every", int, 200, "evaluate every N steps", lo=1),
    Param("log_every", int, 10, "write a batch event every N steps (doubles as the run grows)", lo=1),
    Param("checkpoint_every", int, 1000, "write a checkpoint every N steps (also every 60 s)", lo=1),
    Param("device", str, "auto", "auto, cpu, cuda or cuda:N"),
    Param("amp", str, "auto", "mixed precision", choices=("auto", "bf16", "off")),
    Param("threads", int, 0, "CPU threads for torch (0: all cores)", lo=0, hi=1024),
    Param("seed", int, 0, "seed for the split, init, sampling and augmentation", lo=0),
    Param("time_limit", float, 0.0, "stop gracefully after this many seconds (0: no limit)", lo=0.0),
)
SECTIONS: dict[str, tuple[Param, ...]] = {"data": DATA, "model": MODEL, "optim": OPTIM, "train": TRAIN}
TOP = (
    Param("description", str, "", "one line saying what the preset is for"),
    Param("name", str, "", "run name (default: derived from dataset, method and M)"),
    Param("tags", list, [], "free tags"),
)


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
        return dump_toml(self.to_dict())


def dump_toml(d: dict[str, Any]) -> str:
    """Minimal TOML writer for our flat-sectioned configs (tomllib only reads)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in d.items() if not isinstance(v, dict)]
    for k, v in d.items():
        if isinstance(v, dict):
            lines += ["", f"[{k}]"] + [f"{kk} = {_toml_value(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")


# --------------------------------------------------------------------------- presets and overrides


def find_preset(name_or_path: str) -> Path:
    """A preset by path, or by name in ./presets/ or the project's presets/."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        if not p.is_file():
            raise ConfigError(f"preset file {name_or_path} not found")
        return p
    for folder in (Path.cwd() / "presets", PRESETS_DIR):
        if (folder / f"{name_or_path}.toml").is_file():
            return folder / f"{name_or_path}.toml"
    names = [q.stem for q in list_presets()]
    raise ConfigError(f"unknown preset {name_or_path!r}{_suggest(name_or_path, names)}; `sslbench presets` lists them")


def list_presets() -> list[Path]:
    """Preset files, those in ./presets shadowing the project's."""
    seen: dict[str, Path] = {}
    for folder in (PRESETS_DIR, Path.cwd() / "presets"):
        for p in sorted(folder.glob("*.toml")) if folder.is_dir() else ():
            seen[p.stem] = p
    return sorted(seen.values(), key=lambda p: p.stem)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file, turning syntax errors into ConfigError."""
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from None
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror}") from None


def parse_override(text: str) -> tuple[str, Any]:
    """'optim.lr=0.01' -> ('optim.lr', 0.01). Values are TOML literals; bare words are strings."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r} must look like key=value")
    key, raw = (s.strip() for s in text.split("=", 1))
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def resolve(raw: dict[str, Any], overrides: list[tuple[str, Any]] = (), source: str = "") -> Config:
    """Merge overrides into a raw preset dict, fill defaults and validate every field."""
    from sslbench.methods import METHODS, method_params  # methods declare their own schema

    where = f"{source}: " if source else ""
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items() if k != "sweep"}  # sweep: see sweep_grid
    from_set: set[str] = set()  # keys given on the command line, so errors blame --set, not the preset
    new_method = dict(overrides).get("method.name")
    if new_method in METHODS and new_method != raw.get("method", {}).get("name"):
        # another method keeps only the preset's method parameters that it declares too
        names = {p.name for p in method_params(new_method)}
        raw["method"] = {k: v for k, v in raw.get("method", {}).items() if k in names}
    for key, value in overrides:
        sec, name = _locate(key, raw, where)
        if sec is None:
            raw[name] = value
        else:
            raw.setdefault(sec, {})[name] = value
            from_set.add(f"{sec}.{name}")

    known_top = {p.name for p in TOP} | set(SECTIONS) | {"method"}
    for k in raw:
        if k not in known_top:
            raise ConfigError(f"{where}unknown key {k!r}{_suggest(k, sorted(known_top))}")
    top = {p.name: p.check(raw.get(p.name, p.default), where) for p in TOP}

    sections = {}
    for sec, params in SECTIONS.items():
        sections[sec] = _check_section(raw.get(sec, {}), params, sec, where, from_set)

    mraw = dict(raw.get("method", {}))
    mname = mraw.pop("name", "supervised")
    if mname not in METHODS:
        raise ConfigError(f"{where}unknown method {mname!r}{_suggest(str(mname), sorted(METHODS))}")
    method = {"name": mname, **_check_section(mraw, method_params(mname), "method", where, from_set)}

    from sslbench.models import MODELS

    if sections["model"]["name"] not in MODELS:
        n = sections["model"]["name"]
        raise ConfigError(f"{where}unknown model {n!r}{_suggest(n, sorted(MODELS))}")
    cfg = Config(method=method, **sections, **top)
    _check_consistency(cfg, where)
    return cfg


def _locate(key: str, raw: dict[str, Any], where: str) -> tuple[str | None, str]:
    """Find which section a (possibly bare) override key belongs to."""
    from sslbench.methods import method_params

    if "." in key:
        sec, name = key.split(".", 1)
        return sec, name
    if key in {p.name for p in TOP}:
        return None, key
    method = raw.get("method", {}).get("name", "supervised")
    homes = [s for s, ps in SECTIONS.items() if key in {p.name for p in ps}]
    try:
        if key in {p.name for p in method_params(method)}:
            homes.append("method")
    except ConfigError:
        pass
    if len(homes) == 1:
        return homes[0], key
    if len(homes) > 1:
        raise ConfigError(f"{where}key {key!r} is ambiguous: write one of {', '.join(f'{h}.{key}' for h in homes)}")
    every = [f"{s}.{p.name}" for s, ps in SECTIONS.items() for p in ps]
    raise ConfigError(f"{where}unknown key {key!r}{_suggest(key, every + [p.name for p in TOP])}")


def _check_section(values: dict[str, Any], params: tuple[Param, ...], sec: str, where: str,
                   from_set: set[str] = frozenset()) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise ConfigError(f"{where}[{sec}] must be a table")
    names = [p.name for p in params]
    blame = lambda k: "--set " if f"{sec}.{k}" in from_set else where  # noqa: E731
    for k in values:
        if k not in names:
            raise ConfigError(f"{blame(k)}unknown key '{sec}.{k}'{_suggest(k, names)}")
    return {p.name: p.check(values.get(p.name, p.default), f"{blame(p.name)}{sec}.") for p in params}


def _check_consistency(cfg: Config, where: str) -> None:
    """Checks that span fields (dataset sizes are checked by data.check_config)."""
    t = cfg.train
    if t["steps"] == 0 and t["epochs"] == 0:
        raise ConfigError(f"{where}set train.steps or train.epochs (both are 0)")
    dev = t["device"]
    if dev not in ("auto", "cpu") and not (dev == "cuda" or (dev.startswith("cuda:") and dev[5:].isdigit())):
        raise ConfigError(f"{where}train.device={dev!r} must be auto, cpu, cuda or cuda:N")
    d = cfg.data
    if d["labeled"] == "per_class" and not d["per_class"]:
        raise ConfigError(f"{where}data.labeled='per_class' needs data.per_class = [count per class]")
    if d["labeled"] == "per_class" and any(c < 0 for c in d["per_class"]):
        raise ConfigError(f"{where}data.per_class counts must be >= 0")


def load(preset: str | None, overrides: list[tuple[str, Any]] = ()) -> Config:
    """Resolve a preset (name or path; None = defaults) with overrides into a validated Config."""
    if preset is None:
        return resolve({}, overrides)
    path = find_preset(preset)
    return resolve(read_toml(path), overrides, source=str(path))


def data_dir(cfg_dir: str) -> Path:
    """The data directory a config points at."""
    if cfg_dir:
        return Path(cfg_dir).expanduser()
    env = os.environ.get("SSLBENCH_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "sslbench" / "data"


def sweep_grid(preset: str) -> dict[str, list]:
    """A preset's optional [sweep] table (methods, m, seeds): the grid `sslbench sweep --preset` runs by default."""
    path = find_preset(preset)
    grid = read_toml(path).get("sweep", {})
    if not isinstance(grid, dict):
        raise ConfigError(f"{path}: [sweep] must be a table")
    for k, v in grid.items():
        if k not in ("methods", "m", "seeds"):
            raise ConfigError(f"{path}: unknown key 'sweep.{k}'{_suggest(k, ['methods', 'm', 'seeds'])}")
        if not isinstance(v, list):
            raise ConfigError(f"{path}: sweep.{k} must be a list")
    return grid
