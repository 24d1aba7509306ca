"""README's set-up commands stay true: CI runs the test command verbatim."""

import re

from conftest import ROOT


def test_ci_runs_the_readme_test_command():
    blocks = re.findall(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), re.S)
    test_cmd = next(b for b in blocks if "pytest" in b)
    assert test_cmd in (ROOT / ".ci/run").read_text()
    main_cmd = next(b for b in blocks if "--preset quickstart" in b)
    assert "torch==2.13.0" in main_cmd and "torch==2.13.0" in test_cmd
