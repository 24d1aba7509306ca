"""Property-based fuzzing of the config schema and the CLI (hypothesis).

Every generated command line goes through the real entry point, `sslbench.cli.main`, in this process (so
thousands fit in a minute): it must exit 0 or 2, a refusal must be exactly one `error:` line, no exception
may escape, and nothing may change outside the scratch store, nor inside it when the input was refused.
Commands that would train use --dry-run; everything else (runs rm, show, stop, report) acts for real.

CI runs a bounded budget; before stopping, a developer runs the long one:
    SSLBENCH_FUZZ_EXAMPLES=2000 python -m pytest -q tests/test_fuzz.py -s
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sslbench import cli
from sslbench.core.methods import SPECS
from sslbench.core.schema import SECTIONS, TOP

EXAMPLES = int(os.environ.get("SSLBENCH_FUZZ_EXAMPLES", "150"))
RUN_ID = "20260101-000000-digits-supervised-m50-abcd"
ESCAPE = Path("/tmp/sslbench-fuzz-escape")  # generated paths point here; it must never appear
STATS = {"inputs": 0, "refused": 0, "accepted": 0}

KEYS = ([f"{s}.{p.name}" for s, ps in SECTIONS.items() for p in ps] + [p.name for p in TOP]
        + sorted({p.name for spec in SPECS.values() for p in spec.params}) + ["method.name"])

weird_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", ".", "..", "../..", "/", "/etc", "_sweeps", "_sw", "~", "a/b", "../other", "-x", "--help",
                     "x" * 300, "nan", "inf", "-inf", "1e999", str(2**64), "-1", "0", "true", "[1, 2]", "{a = 1}",
                     str(ESCAPE / "x"), "../../" + str(ESCAPE)[1:], RUN_ID[:10], RUN_ID + "/..", "runs"]),
)
toml_value = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda f: repr(f).replace("inf", "inf").replace("nan", "nan")),
    st.booleans().map(lambda b: str(b).lower()),
    st.text(max_size=20).map(json.dumps),
    st.lists(st.integers(min_value=-5, max_value=10**6), max_size=12).map(str),
    st.sampled_from(["nan", "inf", "-inf", "'cuda'", "'cuda:7'", "'tpu'", "[]", "{}", "[[1]]", "1979-05-27",
                     "'per_class'", "'first'", "'x\\ny'", '"a\\u0000b"', "10000000000000000000000"]),
    weird_text,
)
override = st.tuples(st.one_of(st.sampled_from(KEYS), weird_text), toml_value).map(lambda kv: f"{kv[0]}={kv[1]}")
preset_body = st.one_of(
    st.lists(override, max_size=6).map("\n".join),
    st.lists(st.tuples(st.sampled_from(["data", "method", "model", "optim", "train", "sweep", "description", "x"]),
                       st.lists(override, max_size=4)), max_size=3)
    .map(lambda secs: "\n".join(f"[{s}]\n" + "\n".join(kv.split(".")[-1] for kv in kvs) for s, kvs in secs)),
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
)


@st.composite
def command(draw) -> tuple[list[str], str | None]:
    """A generated command line, and the body of a preset file it refers to (if any)."""
    kind = draw(st.sampled_from(["run", "run", "run", "sweep", "rm", "show", "stop", "report", "resume", "runs",
                                 "methods", "presets"]))
    body = None
    preset = draw(st.one_of(st.just("quickstart"), st.just("mnist-fixmatch"), st.just("@file"), weird_text))
    if preset == "@file":
        body = draw(preset_body)
    common: list[str] = []
    for flag, strat in (("--method", st.one_of(st.sampled_from(sorted(SPECS)), weird_text)),
                        ("--dataset", st.one_of(st.sampled_from(["digits", "mnist", "cifar10", "folder"]), weird_text)),
                        ("--m", st.one_of(st.integers(-10, 10**6).map(str), weird_text)),
                        ("--time-limit", weird_text), ("--data-dir", weird_text)):
        if draw(st.integers(0, 4)) == 0:
            common += [flag, draw(strat)]
    for _ in range(draw(st.integers(0, 3))):
        common += ["--set", draw(override)]
    if kind == "run":
        return ["run", "--preset", preset, *common, "--dry-run"], body
    if kind == "sweep":
        extra = []
        for flag in ("--methods", "--m", "--seeds", "--name", "--jobs", "--executor"):
            if draw(st.booleans()):
                extra += [flag, draw(st.one_of(weird_text, st.sampled_from(["supervised,fixmatch", "10,20", "0,1"])))]
        return ["sweep", "--preset", preset, *extra, *[c for c in common if c != "--time-limit"], "--dry-run"], body
    if kind == "resume":
        return ["run", "--resume", draw(st.one_of(weird_text, st.just(RUN_ID))), *common, "--dry-run"], None
    if kind in ("rm", "show"):
        return ["runs", kind, *draw(st.lists(weird_text, min_size=1, max_size=3))], None
    if kind in ("stop", "report"):
        return [kind, draw(weird_text)], None
    if kind == "methods":
        return ["methods", *draw(st.lists(weird_text, max_size=1))], None
    return [kind], None


def _tree(base: Path) -> dict[str, bytes]:
    return {str(p.relative_to(base)): (p.read_bytes() if p.is_file() else b"") for p in sorted(base.rglob("*"))}


def _fresh(base: Path) -> Path:
    shutil.rmtree(base, ignore_errors=True)
    runs = base / "runs"
    (runs / RUN_ID).mkdir(parents=True)
    (runs / RUN_ID / "summary.json").write_text(json.dumps({"id": RUN_ID, "status": "finished", "m": 50}))
    (runs / RUN_ID / "config.toml").write_text('[data]\ndataset = "digits"\n[train]\nsteps = 10\n')
    (runs / "_sweeps").mkdir()
    (base / "other").mkdir()
    (base / "other" / "keep.txt").write_text("keep")
    (base / "cwd").mkdir()
    return runs


def _main(argv: list[str], cwd: Path) -> tuple[int, str]:
    err = io.StringIO()
    old_argv, old_cwd = sys.argv, os.getcwd()
    sys.argv = ["sslbench", *argv]
    os.chdir(cwd)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            cli.main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)
    return code, err.getvalue()


@pytest.fixture
def scratch(tmp_path_factory, monkeypatch):
    base = tmp_path_factory.mktemp("fuzz")
    monkeypatch.setenv("SSLBENCH_PRESETS", str(base / "user-presets"))
    monkeypatch.setenv("SSLBENCH_DATA", str(base / "data"))
    monkeypatch.setenv("COLUMNS", "120")
    return base


def test_fuzzed_command_lines_never_crash_escape_or_leave_anything(scratch):
    outside = set(os.listdir(scratch.parent))
    root = scratch / "box"

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not os.environ.get("SSLBENCH_FUZZ_RANDOM"),
              suppress_health_check=list(HealthCheck))
    @given(command())
    def one(case):
        argv, body = case
        runs = _fresh(root)
        if body is not None:
            (root / "cwd" / "p.toml").write_text(body, encoding="utf-8", errors="surrogateescape")
            argv = [str(root / "cwd" / "p.toml") if a == "@file" else a for a in argv]
        before = _tree(root)
        code, err = _main(["--runs-dir", str(runs), *argv], root / "cwd")
        STATS["inputs"] += 1
        assert code in (0, 2), (argv, code, err[-2000:])
        assert not ESCAPE.exists(), argv
        if code == 2:
            STATS["refused"] += 1
            lines = [x for x in err.splitlines() if x.strip()]
            assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err[-2000:])
            assert _tree(root) == before, ("refused, yet the store changed", argv)
        else:
            STATS["accepted"] += 1
            after = _tree(root)
            # an accepted command may only remove the run it was given, or write a sweep's report
            changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
            assert all(k.startswith(f"runs/{RUN_ID}") or k.startswith("runs/_sweeps") for k in changed), (argv, changed)

    one()
    assert set(os.listdir(scratch.parent)) - outside <= set(), "files appeared beside the scratch store"
    print(f"\nfuzz: {STATS['inputs']} inputs, {STATS['refused']} refused with one line, {STATS['accepted']} accepted, "
          "0 tracebacks, 0 files outside the scratch store, 0 leftovers")
