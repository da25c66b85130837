"""Every examples/plot_*.py runs as a script in quick mode and writes its figures.

Each example runs in its own interpreter, as a reader would run it, with
``SKNORMNET_QUICK=1`` (small data, few epochs) and ``SKNORMNET_EXAMPLES_OUT``
pointing into the test's temporary folder. All of them are marked ``slow``
except one quick one, which keeps the default test run honest about the
examples' shared set-up.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("plot_*.py"))
# the fastest example in quick mode (about 8 s on two cores) runs by default
UNMARKED = "plot_red_wine.py"


def example_params():
    for path in EXAMPLES:
        marks = () if path.name == UNMARKED else (pytest.mark.slow,)
        yield pytest.param(path, id=path.stem, marks=marks)


def test_examples_are_found():
    names = [path.name for path in EXAMPLES]
    assert UNMARKED in names
    assert len(names) >= 5, names


@pytest.mark.parametrize("script", list(example_params()))
def test_example_runs_in_quick_mode_and_writes_a_png(script, tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("pandas")
    output = tmp_path / "figures"
    env = {
        **os.environ,
        "SKNORMNET_QUICK": "1",
        "SKNORMNET_EXAMPLES_OUT": str(output),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "MPLBACKEND": "Agg",
    }
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"{script.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    pngs = sorted(output.glob("*.png"))
    assert pngs, f"{script.name} wrote no PNG into {output}"
    for png in pngs:
        assert png.stat().st_size > 0, f"{png.name} is empty"
