"""Bad input: one line naming the problem, exit status 2, and no run directory left behind."""

import pytest

from conftest import sslbench
from sslbench.core import config
from sslbench.core.presets import find_preset, list_presets, read_toml, shipped_dir
from sslbench.runs.sweep import per_method
from sslbench.core.errors import ConfigError


def _fails(runs, *args, match: str):
    r = sslbench("run", *args, runs_dir=runs, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert match in lines[0], lines[0]
    assert not runs.exists() or not any(runs.iterdir())
    return lines[0]


@pytest.mark.parametrize("args, match", [
    (["--preset", "quickstart", "--set", "method.tua=0.9"], "unknown key 'method.tua' (did you mean 'tau'?)"),
    (["--preset", "quickstart", "--set", "optim.lr=fast"], "optim.lr must be float, got str 'fast'"),
    (["--preset", "quickstart", "--set", "tau=1.5"], "method.tau=1.5 is above its maximum 1.0"),
    (["--preset", "quickstart", "--set", "train.batch=0"], "train.batch=0 is below its minimum 1"),
    (["--preset", "quickstart", "--dataset", "mnits"], "unknown dataset 'mnits' (did you mean 'mnist'?)"),
    (["--preset", "quickstart", "--method", "fixmach"], "unknown method 'fixmach' (did you mean 'fixmatch'?)"),
    (["--preset", "quickstart", "--set", "model.name=resnet9000"], "model.name='resnet9000' is not one of"),
    (["--preset", "quickstart", "--m", "5000"], "M=5000 is larger than digits's 1,437 training images"),
    (["--preset", "quickstart", "--method", "fixmatch", "--m", "5"], "M=5 leaves a class of digits without a labeled image"),
    (["--preset", "nosuchpreset"], "unknown preset 'nosuchpreset'"),
    (["--preset", "quickstart", "--set", "banana"], "--set 'banana' must look like key=value"),
    (["--preset", "quickstart", "--time-limit", "soon"], "--time-limit 'soon'"),
])
def test_bad_input_is_one_line_and_exit_2(runs, args, match):
    _fails(runs, *args, match=match)


def test_missing_dataset_files_say_which_where_and_how(runs, tmp_path):
    line = _fails(runs, "--preset", "quickstart", "--dataset", "mnist", "--m", "100", "--data-dir", str(tmp_path),
                  match="mnist: missing MNIST/raw/train-images-idx3-ubyte.gz")
    assert str(tmp_path) in line and "sslbench download mnist" in line


def test_bad_preset_file_names_the_file(runs, tmp_path):
    p = tmp_path / "ablation.toml"
    p.write_text('[method]\nname = "fixmatch"\ntua = 0.9\n')
    _fails(runs, "--preset", str(p), match=f"{p}: unknown key 'method.tua' (did you mean 'tau'?)")
    p.write_text("[method\n")
    _fails(runs, "--preset", str(p), match=str(p))


def test_resolved_config_round_trips_as_a_preset(tmp_path):
    cfg = config.load("quickstart", [("method.tau", 0.8), ("train.steps", 7)])
    p = tmp_path / "again.toml"
    p.write_text(cfg.to_toml())
    again = config.load(str(p))
    assert again == cfg and again.method["tau"] == 0.8 and again.train["steps"] == 7


def test_bare_keys_resolve_when_unambiguous_and_values_are_typed():
    cfg = config.load("quickstart", [config.parse_override("lambda_kmeans=0.5"), config.parse_override("seed=3")])
    assert cfg.method["lambda_kmeans"] == 0.5 and cfg.train["seed"] == 3
    with pytest.raises(ConfigError, match="unknown key 'lamda_kmeans'"):
        config.load("quickstart", [config.parse_override("lamda_kmeans=0.5")])


def test_switching_method_drops_the_presets_method_parameters(runs):
    r = sslbench("run", "--preset", "quickstart", "--method", "supervised", "--set", "train.steps=2",
                 "--set", "train.eval_every=1", runs_dir=runs, timeout=120)
    assert r.returncode == 0, r.stderr


def test_switching_network_drops_the_presets_width_unless_given():
    """grid-mnist's fastnet width 16 once reached mlp_wn, whose widths are 500-1000, and the run got 24%."""
    assert config.load("grid-mnist").model["width"] == 16
    assert config.load("grid-mnist", [("model.name", "mlp_wn")]).model["width"] == 0  # the network's own default
    assert config.load("grid-mnist", [("model.width", 8), ("model.name", "mlp_wn")]).model["width"] == 8
    assert config.load("grid-mnist", [("model.name", "fastnet")]).model["width"] == 16  # same network: kept


def test_every_shipped_preset_resolves():
    for p in list_presets():
        cfg = config.load(str(p))
        assert cfg.description, f"{p.name} needs a description"


def _preset(folder, name: str, text: str):
    p = folder / f"{name}.toml"
    p.write_text(text)
    return p


def test_a_preset_that_extends_another_is_that_presets_cell_for_its_method():
    """mnist-autoencoder-kmeans once repeated grid-mnist's autoencoder_kmeans row by hand; now it extends the grid and
    takes the row, so the two cannot drift apart, except where it says otherwise: its own settings win, in a sweep of
    it too (the row it took does not come back as its [sweep.per_method])."""

    own = read_toml(find_preset("mnist-autoencoder-kmeans"))
    assert own["extends"] == "grid-mnist"
    child = config.load("mnist-autoencoder-kmeans")
    row = per_method("grid-mnist", ["autoencoder_kmeans"])["autoencoder_kmeans"]
    pinned = {f"{sec}.{k}" for sec, t in own.items() if isinstance(t, dict) for k in t}
    assert dict(row)["method.manifold"] == "umap" and child.method["manifold"] == "none"  # its own setting wins
    assert all(getattr(child, k.split(".")[0])[k.split(".")[1]] == v for k, v in row if k not in pinned), row
    assert "autoencoder_kmeans" not in per_method("mnist-autoencoder-kmeans", ["autoencoder_kmeans"])  # ... in a sweep
    grid = config.load("grid-mnist")
    assert (child.data["dataset"], child.data["m"], child.method["name"]) == ("mnist", 600, "autoencoder_kmeans")
    assert child.optim["momentum"] == grid.optim["momentum"]  # a key neither the row nor the child sets: the grid's
    assert child.train["epochs"] == 20 and child.train["steps"] == 0 and grid.train["steps"] == 3000
    assert child.description != grid.description  # never inherited


def test_extends_follows_names_and_relative_paths_and_switches_method_as_set_does(tmp_path):
    _preset(tmp_path, "base", 'description = "base"\n[method]\nname = "supervised"\nlabel_smoothing = 0.2\n'
                              '[optim]\nlr = 0.4\nmomentum = 0.8\n[train]\nsteps = 50\n')
    mid = _preset(tmp_path, "mid", 'extends = "base.toml"\n[optim]\nlr = 0.1\n')
    top = _preset(tmp_path, "top", f'extends = "{mid}"\ndescription = "top"\n[method]\nname = "fixmatch"\n')
    cfg = config.load(str(top))
    assert (cfg.optim["lr"], cfg.optim["momentum"], cfg.train["steps"]) == (0.1, 0.8, 50)
    assert cfg.method["name"] == "fixmatch" and "label_smoothing" not in cfg.method  # not fixmatch's: dropped
    assert config.load(str(mid)).method["label_smoothing"] == 0.2 and config.load(str(mid)).description == ""


def test_a_user_preset_may_extend_the_shipped_one_it_shadows(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLBENCH_PRESETS", str(tmp_path))
    _preset(tmp_path, "quickstart", 'extends = "quickstart"\ndescription = "mine"\n[train]\nsteps = 7\n')
    mine, shipped = config.load("quickstart"), config.load(str(shipped_dir() / "quickstart.toml"))
    assert mine.train["steps"] == 7 and mine.description == "mine"
    assert (mine.method, mine.model, mine.optim, mine.data) == (shipped.method, shipped.model, shipped.optim,
                                                                shipped.data)


@pytest.mark.parametrize("files, match", [
    ({"a": 'extends = "b.toml"\n', "b": 'extends = "a.toml"\n'}, "extends makes a loop (a -> b -> a)"),
    ({"a": 'extends = "a.toml"\n'}, "extends makes a loop (a -> a)"),
    ({"a": 'extends = "nosuchpreset"\n'}, "unknown preset 'nosuchpreset'"),
    ({"a": "extends = 3\n"}, "a.toml: extends must be a preset name or a .toml path"),
    ({"a": 'extends = "b.toml"\n', "b": '[method]\nname = "fixmatch"\ntua = 0.9\n'}, "unknown key 'method.tua'"),
])
def test_a_bad_extends_is_one_line_and_exit_2(runs, tmp_path, files, match):
    for name, text in files.items():
        _preset(tmp_path, name, text)
    _fails(runs, "--preset", str(tmp_path / "a.toml"), match=match)
