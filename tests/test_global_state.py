"""A first fit in a fresh process leaves every global RNG and flag as it was."""

import os
import subprocess
import sys

import pytest

CHILD = r"""
import random
import numpy as np
import sknormnet

rng = np.random.default_rng(0)
X, y = rng.normal(size=(60, 3)), rng.normal(size=60)
np.random.seed(123)
random.seed(456)
numpy_before = np.random.get_state()[1].copy()
python_before = random.getstate()
for seed in (0, None):
    sknormnet.NormNetRegressor(
        hidden_layer_sizes=(4,), dropout_rate=0.2, batchnorm="input",
        max_iter=2, random_state=seed,
    ).fit(X, y)
assert np.array_equal(np.random.get_state()[1], numpy_before), "numpy global RNG"
assert random.getstate() == python_before, "python random"
import keras
if keras.backend.backend() == "tensorflow":
    from tensorflow.python.framework import config as tf_config
    assert not tf_config.is_op_determinism_enabled(), "TF determinism"
print("clean")
"""


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_global_state_untouched_by_first_fit(backend):
    """Importing the backend inside fit draws from global RNGs; fit restores them."""
    if backend == "jax":
        pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("clean")
