"""Bad input through the real CLI: one `error:` line, exit 2, no traceback, nothing written or removed.

The corpus is every case the outside review of the reliability issue found mishandled, kept as regression
tests. tests/test_fuzz.py generates more of the same kind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import sslbench

RUN_ID = "20260101-000000-digits-supervised-m50-abcd"
LONG = "x" * 300


def make_store(base: Path) -> Path:
    """A store holding one finished run and a sweep, with a sibling folder that must never be touched."""
    runs = base / "runs"
    d = runs / RUN_ID
    d.mkdir(parents=True)
    (d / "summary.json").write_text(json.dumps({"id": RUN_ID, "status": "finished", "dataset": "digits",
                                                "method": "supervised", "m": 50, "started": 1.0}))
    (runs / "_sweeps" / "s1").mkdir(parents=True)
    (runs / "_sweeps" / "s1" / "sweep.json").write_text("{}")
    (base / "other").mkdir()
    (base / "other" / "keep.txt").write_text("keep")
    return runs


def snapshot(base: Path) -> dict[str, bytes]:
    return {str(p.relative_to(base)): (p.read_bytes() if p.is_file() else b"<dir>") for p in sorted(base.rglob("*"))}


def check_refused(r, base: Path, before: dict[str, bytes], match: str = "") -> None:
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr[-1500:])
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert match in lines[0], lines[0]
    assert snapshot(base) == before, "the store or its surroundings changed"


PRESETS = {  # file name -> bytes
    "latin1.toml": 'description = "caf\xe9"\n'.encode("latin-1"),
    "method_str.toml": b'method = "x"\n',
    "method_int.toml": b"method = 1\n",
    "data_int.toml": b"data = 1\n",
    "train_str.toml": b'train = "x"\n',
    "method_name_list.toml": b"[method]\nname = [1]\n",
    "description_table.toml": b"[description]\nx = 1\n",
    "deep.toml": b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "name_dotdot.toml": b'name = "../../../x"\n',
    "name_slash.toml": b'name = "a/b"\n',
    "name_nul.toml": b'name = "a\\u0000b"\n',
    "name_newline.toml": b'name = "a\\nb"\n',
    "name_long.toml": f'name = "{LONG}"\n'.encode(),
    "sweep_m_str.toml": b'[sweep]\nmethods = ["supervised"]\nm = ["a"]\n',
    "sweep_seeds_float.toml": b'[sweep]\nmethods = ["supervised"]\nm = [10]\nseeds = [0.5]\n',
    "unknown_key.toml": b"[method]\ntua = 0.9\nname = \"fixmatch\"\n",
    "sweep_per_method_key.toml": b'[sweep]\nmethods = ["supervised"]\nm = [10]\n'
                                 b'[sweep.per_method.supervised]\nmodel = { nme = "mlp" }\n',
    "sweep_per_method_unknown.toml": b'[sweep]\nmethods = ["supervised"]\nm = [10]\n'
                                     b'[sweep.per_method.supervisd]\nmodel = { width = 8 }\n',
    "sweep_per_method_seed.toml": b'[sweep]\nmethods = ["supervised"]\nm = [10]\n'
                                  b'[sweep.per_method.supervised]\ntrain = { seed = 1 }\n',
    "sweep_per_method_flat.toml": b'[sweep]\nmethods = ["supervised"]\nm = [10]\nper_method = 3\n',
}

CASES = [  # (id, argv with {p}=preset folder, {base}=scratch, {runs}=store; expected text in the error)
    ("rm-dotdot", ["runs", "rm", ".."], "not a valid id"),
    ("rm-dotdot2", ["runs", "rm", "../.."], "not a valid id"),
    ("rm-etc", ["runs", "rm", "/etc"], "not a valid id"),
    ("rm-root", ["runs", "rm", "/"], "not a valid id"),
    ("rm-sibling", ["runs", "rm", "../other"], "not a valid id"),
    ("rm-empty", ["runs", "rm", ""], "not a valid id"),
    ("rm-sweeps-prefix", ["runs", "rm", "_sw"], "not a valid id"),
    ("rm-unknown", ["runs", "rm", "nosuchrun"], "no run"),
    ("show-dotdot", ["runs", "show", ".."], "not a valid id"),
    ("show-etc", ["runs", "show", "/etc"], "not a valid id"),
    ("show-long", ["runs", "show", LONG], "not a valid id"),
    ("stop-dotdot", ["stop", "../other"], "not a valid id"),
    ("resume-path", ["run", "--resume", "../other"], "not a valid id"),
    ("resume-long", ["run", "--resume", LONG], "not a valid id"),
    ("set-name-dotdot", ["run", "--preset", "quickstart", "--set", "name=../../../x"], "name="),
    ("set-name-slash", ["run", "--preset", "quickstart", "--set", "name=a/b"], "name="),
    ("set-name-long", ["run", "--preset", "quickstart", "--set", f"name={LONG}"], "name"),
    ("set-name-newline", ["run", "--preset", "quickstart", "--set", 'name="a\\nb"'], "name"),
    ("set-tags-newline", ["run", "--preset", "quickstart", "--set", 'tags=["a\\nb"]'], "tags"),
    ("preset-too-long", ["run", "--preset", LONG], "unknown preset"),
    ("preset-missing-file", ["run", "--preset", "{base}/nope.toml"], "not found"),
    ("lr-nan", ["run", "--preset", "quickstart", "--set", "optim.lr=nan"], "optim.lr"),
    ("lr-inf", ["run", "--preset", "quickstart", "--set", "optim.lr=inf"], "optim.lr"),
    ("momentum-nan", ["run", "--preset", "quickstart", "--set", "optim.momentum=nan"], "optim.momentum"),
    ("ema-nan", ["run", "--preset", "quickstart", "--set", "optim.ema=nan"], "optim.ema"),
    ("tau-nan", ["run", "--preset", "quickstart", "--method", "fixmatch", "--set", "tau=nan"], "tau"),
    ("lambda-nan", ["run", "--preset", "quickstart", "--set", "lambda_kmeans=nan"], "lambda_kmeans"),
    ("time-limit-nan", ["run", "--preset", "quickstart", "--set", "train.time_limit=nan"], "time_limit"),
    ("seed-2e63", ["run", "--preset", "quickstart", "--set", f"train.seed={2**63 + 1}"], "train.seed"),
    ("seed-2e64", ["run", "--preset", "quickstart", "--set", f"train.seed={2**64}"], "train.seed"),
    ("seed-negative", ["run", "--preset", "quickstart", "--set", "train.seed=-1"], "train.seed"),
    ("steps-huge", ["run", "--preset", "quickstart", "--set", "train.steps=1000000000000000000000"], "train.steps"),
    ("steps-bool", ["run", "--preset", "quickstart", "--set", "train.steps=true"], "train.steps"),
    ("per-class-short", ["run", "--preset", "quickstart", "--set", "data.labeled='per_class'",
                         "--set", "data.per_class=[1,2]"], "per_class"),
    ("per-class-negative", ["run", "--preset", "quickstart", "--set", "data.labeled='per_class'",
                            "--set", "data.per_class=[-1,1,1,1,1,1,1,1,1,1]"], "per_class"),
    ("per-class-too-many", ["run", "--preset", "quickstart", "--set", "data.labeled='per_class'",
                            "--set", "data.per_class=[500,1,1,1,1,1,1,1,1,1]"], "per_class"),
    ("device-cuda", ["run", "--preset", "quickstart", "--set", "train.device='cuda'"], "cuda"),
    ("device-bogus", ["run", "--preset", "quickstart", "--set", "train.device='tpu'"], "train.device"),
    ("m-too-large", ["run", "--preset", "quickstart", "--m", "5000"], "larger than"),
    ("m-negative", ["run", "--preset", "quickstart", "--m", "-3"], "data.m=-3"),
    ("unknown-method", ["run", "--preset", "quickstart", "--method", "nope"], "unknown method"),
    ("unknown-key", ["run", "--preset", "quickstart", "--set", "optim.lrr=0.1"], "unknown key"),
    ("bad-section", ["run", "--preset", "quickstart", "--set", "nope.x=1"], "unknown section"),
    ("data-missing", ["run", "--preset", "quickstart", "--dataset", "mnist", "--data-dir", "{base}/nodata"], "mnist"),
    ("sweep-name-dotdot", ["sweep", "--preset", "quickstart", "--methods", "supervised", "--m", "20",
                           "--name", "../../x"], "name"),
    ("sweep-name-abs", ["sweep", "--preset", "quickstart", "--methods", "supervised", "--m", "20",
                        "--name", "{base}/abs"], "name"),
    ("sweep-m-text", ["sweep", "--preset", "quickstart", "--methods", "supervised", "--m", "a,b"], "--m"),
    ("sweep-jobs-zero", ["sweep", "--preset", "quickstart", "--methods", "supervised", "--m", "20", "--jobs", "0"],
     "--jobs"),
    ("sweep-executor", ["sweep", "--preset", "quickstart", "--methods", "supervised", "--m", "20",
                        "--executor", "nope"], "--executor"),
    ("sweep-unknown-method", ["sweep", "--preset", "quickstart", "--methods", "supervised,nope", "--m", "20"],
     "unknown method"),
    ("report-long", ["report", LONG], "sweep"),
    ("report-dotdot", ["report", "../other"], "sweep"),
    ("report-unknown", ["report", "nosuchsweep"], "sweep"),
    ("runs-dir-file", ["runs", "--runs-dir", "{base}/other/keep.txt"], "not a directory"),
    ("run-runs-dir-file", ["run", "--preset", "quickstart", "--runs-dir", "{base}/other/keep.txt"],
     "not a directory"),
    ("run-runs-dir-unmakeable", ["run", "--preset", "quickstart", "--runs-dir", "/proc/sslbench/runs"], "run store"),
    ("bad-option", ["run", "--preset", "quickstart", "--bogus"], "--bogus"),
    ("methods-unknown", ["methods", "fixmach"], "did you mean"),
    ("reproduce-unknown", ["reproduce", "report-009"], "unknown report"),
    ("reproduce-row", ["reproduce", "report-001", "--rows", "m7"], "no row"),
    ("reproduce-seeds", ["reproduce", "report-001", "--seeds", "x"], "--seeds"),
    ("reproduce-set", ["reproduce", "report-002", "--set", "train.steps=-1"], "train.steps"),
    ("export-target", ["export", "nosuchrun", "--to", "parquet", "{base}/out"], "unknown export target"),
    ("export-run", ["export", "nosuchrun", "--to", "csv", "{base}/out"], "no run"),
    ("download-unknown", ["download", "cifar100", "--data-dir", "{base}/dl"], "no known URL"),
    ("download-digits", ["download", "digits", "--data-dir", "{base}/dl"], "scikit-learn"),
    ("slurm-param", ["sweep", "--preset", "quickstart", "--methods", "supervised", "--m", "20", "--slurm", "x=1"],
     "--executor slurm"),
] + [(f"preset-{name[:-5]}", ["run", "--preset", "{p}/" + name], "") for name in PRESETS if
     not name.startswith("sweep_")] + [
    (f"sweep-preset-{name[:-5]}", ["sweep", "--preset", "{p}/" + name], "sweep.") for name in PRESETS
    if name.startswith("sweep_")]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(case, tmp_path):
    _, argv, match = case
    runs = make_store(tmp_path)
    p = tmp_path / "presets"
    p.mkdir()
    for name, data in PRESETS.items():
        (p / name).write_bytes(data)
    argv = [a.replace("{p}", str(p)).replace("{base}", str(tmp_path)).replace("{runs}", str(runs)) for a in argv]
    before = snapshot(tmp_path)
    if "--runs-dir" not in argv:
        argv = ["--runs-dir", str(runs), *argv]  # before the command: it must mean the same there
    r = sslbench(*argv, cwd=tmp_path / "other",
                 env={**os.environ, "SSLBENCH_PRESETS": str(tmp_path / "no-user-presets")})
    check_refused(r, tmp_path, before, match)


def folder_dataset(root: Path, kind: str) -> Path:
    """A class-per-folder dataset broken in one way."""
    from PIL import Image

    good = Image.new("RGB", (12, 12), (200, 30, 30))
    classes = ["a"] if kind == "one-class" else ["a", "b"]
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(4):
            if kind == "all-corrupt":
                (root / c / f"{i}.png").write_bytes(b"not an image")
            else:
                good.save(root / c / f"{i}.png")
    if kind == "zero-byte":
        (root / "a" / "z.png").write_bytes(b"")
    if kind == "truncated":
        data = (root / "a" / "0.png").read_bytes()
        (root / "b" / "t.png").write_bytes(data[: len(data) // 2])
    if kind == "text-as-png":
        (root / "a" / "t.png").write_text("hello")
    if kind == "dir-as-png":
        (root / "b" / "x.png").mkdir()
    if kind == "empty-class":
        (root / "c").mkdir()
    return root


@pytest.mark.parametrize("kind", ["one-class", "all-corrupt", "zero-byte", "truncated", "text-as-png",
                                  "dir-as-png", "empty-class"])
def test_broken_image_folders_are_refused_before_a_run_exists(kind, tmp_path):
    data = folder_dataset(tmp_path / "data", kind)
    runs = tmp_path / "runs"
    before = snapshot(tmp_path)
    r = sslbench("run", "--preset", "quickstart", "--dataset", "folder", "--data-dir", str(data), "--m", "2",
                 "--method", "supervised", runs_dir=runs)
    check_refused(r, tmp_path, before)
    if kind in ("zero-byte", "truncated", "text-as-png", "dir-as-png"):
        assert "skip_bad" in r.stderr  # the message says how to go on without them


def test_unreadable_images_are_skipped_only_when_asked(tmp_path):
    data = folder_dataset(tmp_path / "data", "text-as-png")
    r = sslbench("run", "--preset", "quickstart", "--dataset", "folder", "--data-dir", str(data), "--m", "2",
                 "--method", "supervised", "--set", "data.skip_bad=true", "--set", "train.steps=4",
                 "--set", "data.size=8", runs_dir=tmp_path / "runs")
    assert r.returncode == 0, r.stderr
    assert "skipping 1 unreadable" in r.stderr and "t.png" in r.stderr
