"""The house: the core and everything that stands on it alone never import torch; presets ship in the wheel."""

from __future__ import annotations

import ast
import subprocess
import re
import sys
import venv
from pathlib import Path

import pytest

from conftest import ROOT, sslbench

PKG = ROOT / "sslbench"
LIGHT = ["sslbench.core", "sslbench.core.config", "sslbench.core.store", "sslbench.core.events",
         "sslbench.core.sweeps", "sslbench.cli", "sslbench.report", "sslbench.tui.app",
         "sslbench.tui.screens.new_run", "sslbench.tui.screens.run_view", "sslbench.tui.screens.compare"]


def _imported(modules: list[str], code: str = "") -> set[str]:
    src = "import sys\n" + "".join(f"import {m}\n" for m in modules) + code + \
        "\nprint('HEAVY:', *sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'scipy', 'sklearn')))"
    r = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.splitlines()[-1].split()[1:])


def test_the_core_the_tui_and_the_listing_commands_never_import_torch():
    heavy = _imported(LIGHT)
    assert not heavy, f"torch-free layer pulled in {sorted(heavy)[:5]}"


def test_resolving_a_preset_and_building_the_form_stay_torch_free():
    code = ("from sslbench.core import config\n"
            "config.load_checked('quickstart', [('method.name', 'fixmatch')])\n"
            "from sslbench.core.methods import SPECS\n"
            "[s.params for s in SPECS.values()]\n")
    assert not _imported([], code)


@pytest.mark.parametrize("args", [["runs"], ["presets"], ["methods"], ["methods", "fixmatch"], ["report"]])
def test_listing_commands_do_not_import_torch(args, tmp_path):
    code = ("import sys, runpy\n"
            f"sys.argv = ['sslbench', '--runs-dir', {str(tmp_path)!r}, *{args!r}]\n"
            "try:\n    runpy.run_module('sslbench.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n")
    assert not _imported([], code)


def _imports_of(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_layers_only_point_down():
    # core -> (nothing of ours); data, models -> core; methods -> data, models, core; engine -> all of those;
    # runs -> core (+ engine lazily in the worker); tui -> core, runs
    allowed = {
        "core": {"core"},
        "data": {"core", "data"},
        "models": {"core", "models"},
        "methods": {"core", "data", "models", "methods"},
        "engine": {"core", "data", "models", "methods", "engine"},
        "tui": {"core", "tui", "runs", "report"},
    }
    bad = []
    for layer, ok in allowed.items():
        for f in (PKG / layer).rglob("*.py"):
            for mod in _imports_of(f):
                parts = mod.split(".")
                if parts[0] == "sslbench" and len(parts) > 1 and parts[1] not in ok and parts[1] != "__init__":
                    bad.append(f"{f.relative_to(ROOT)} imports {mod}")
    assert not bad, "\n".join(bad)


def test_no_private_name_is_imported_across_packages():
    bad = []
    for f in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sslbench"):
                bad += [f"{f.relative_to(ROOT)}: {node.module}.{a.name}" for a in node.names
                        if a.name.startswith("_") and not a.name.startswith("__")]
    assert not bad, "\n".join(bad)


def test_tui_starts_within_a_second():
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", "import sslbench.tui.app"], capture_output=True,
                       text=True, cwd=ROOT, timeout=60)
    total_us = sum(int(line.split("|")[1]) for line in r.stderr.splitlines()
                   if line.startswith("import time:") and line.split("|")[1].strip().isdigit()
                   and not line.split("|")[2].startswith("  "))
    assert total_us < 1_000_000, f"importing the workbench takes {total_us / 1e6:.2f} s"


@pytest.mark.slow
def test_presets_ship_in_the_wheel_and_are_found_after_a_plain_install(tmp_path):
    """Build the wheel, install it (no deps: the test venv borrows ours) outside the source tree, list presets."""
    wheel_dir = tmp_path / "wheel"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                        str(wheel_dir), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = wheel_dir.glob("sslbench-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=False, with_pip=False)
    py = env_dir / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import site; print(site.getsitepackages()[0])"], capture_output=True,
                          text=True).stdout.strip()
    # the dependencies come from the test environment through a .pth file; sslbench itself only from the wheel
    ours = [p for p in sys.path if p.endswith("site-packages")]
    Path(site, "deps.pth").write_text("\n".join(ours) + "\n")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, str(wheel)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = subprocess.run([str(py), "-c", "import sslbench, sys; print(sslbench.__file__); "
                        "from sslbench.cli import main; sys.argv=['sslbench','presets']; main()"],
                       capture_output=True, text=True, cwd=elsewhere, timeout=120, env={"PATH": "/usr/bin:/bin",
                                                                                         "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr[-2000:]
    assert str(ROOT) not in r.stdout.splitlines()[0], "imported the source tree, not the wheel"
    assert "quickstart" in r.stdout and "mnist-fixmatch" in r.stdout


def test_user_presets_shadow_shipped_ones(tmp_path):
    user = tmp_path / "presets"
    user.mkdir()
    (user / "quickstart.toml").write_text('description = "my own quickstart"\n[train]\nsteps = 7\n')
    (user / "mine.toml").write_text('description = "mine"\n[train]\nsteps = 9\n')
    env = {**__import__("os").environ, "SSLBENCH_PRESETS": str(user)}
    listed = sslbench("presets", env=env).stdout
    assert "my own quickstart" in listed and "mine" in listed
    r = sslbench("run", "--preset", "quickstart", "--dry-run", env=env)
    assert r.returncode == 0 and "steps = 7" in r.stdout


def test_every_third_party_import_is_a_declared_dependency():
    """A module the tests happen to have (click came in through ray) must not stand in for a declared one:
    the README's main command runs without the test extras."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = " ".join(project["dependencies"]).lower()
    extras = " ".join(r for k, v in project["optional-dependencies"].items() if k != "test" for r in v).lower()
    distribution = {"PIL": "pillow", "sklearn": "scikit-learn", "textual_plotext": "textual-plotext",
                    "tomli_w": "tomli-w"}
    import_name = {"nvidia-ml-py": "pynvml", "umap-learn": "umap"}
    optional = {import_name.get(d, d) for d in re.findall(r"[a-z0-9_-]+(?=[\[<>=~!; ]|$)", extras)}  # extras
    missing = set()
    for f in PKG.rglob("*.py"):
        for mod in _imports_of(f):
            top = mod.split(".")[0]
            if top in sys.stdlib_module_names or top in ("sslbench", "__future__") or top in optional:
                continue
            if distribution.get(top, top).lower() not in declared:
                missing.add(f"{f.relative_to(ROOT)}: {top}")
    assert not missing, sorted(missing)
