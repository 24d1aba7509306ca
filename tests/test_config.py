"""Bad input: one line naming the problem, exit status 2, and no run directory left behind."""

import pytest

from conftest import sslbench
from sslbench.core import config
from sslbench.core.presets import list_presets
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
