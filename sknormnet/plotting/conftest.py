"""pytest set-up for the doctests of sknormnet.plotting.

The docstring examples draw with matplotlib, an optional dependency: they are
skipped when it is missing, run with the non-interactive Agg backend otherwise,
and every figure they open is closed afterwards.
"""

import pytest


@pytest.fixture(autouse=True)
def _matplotlib_agg():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
