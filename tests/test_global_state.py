"""Fitting and predicting leave every process-global random state and flag as it was.

Each check runs in a fresh subprocess per Keras backend: the first fit imports
the backend, which draws from NumPy's and Python's global RNGs (see
``_keras_modules``); and Keras' global state is per process.
"""

import os
import subprocess
import sys

import pytest

# The first fit in a fresh process: importing the backend inside fit must put
# NumPy's and Python's global RNGs back.
FIRST_FIT = r"""
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

# Every kind of call, with and without random_state, in a process whose global
# state was set beforehand ("seeded": Keras' global seed and SeedGenerator,
# TensorFlow's global seed, generator and determinism flag) or left alone
# ("pristine": the calls must not create any of it either).
EVERY_CALL = r"""
import inspect
import random
import sys

import numpy as np

mode = sys.argv[1]
import keras  # noqa: E402
from keras.src.backend.common import global_state  # noqa: E402
from keras.src.random.seed_generator import GLOBAL_SEED_GENERATOR  # noqa: E402
from keras.src.utils.rng_utils import GLOBAL_RANDOM_SEED  # noqa: E402

import sknormnet  # noqa: E402

TF = keras.backend.backend() == "tensorflow"
if TF:
    import tensorflow as tf
    from tensorflow.python.eager import context
    from tensorflow.python.framework import config as tf_config
    from tensorflow.python.ops import stateful_random_ops

if mode == "seeded":
    keras.utils.set_random_seed(789)  # Keras' seed, Python, NumPy, TF's seed
    keras.random.normal((2,))  # creates and advances Keras' global SeedGenerator
    if TF:
        tf.random.get_global_generator().normal((2,))
        tf.config.experimental.enable_op_determinism()
np.random.seed(123)
random.seed(456)


def state():
    gen = global_state.get_global_attribute(GLOBAL_SEED_GENERATOR)
    out = {
        "numpy global RNG": np.random.get_state()[1].tolist(),
        "python random": random.getstate(),
        "keras global seed": global_state.get_global_attribute(GLOBAL_RANDOM_SEED),
        "keras global SeedGenerator": None if gen is None else (
            id(gen), keras.ops.convert_to_numpy(gen.state.value).tolist()
        ),
        "keras floatx": keras.config.floatx(),
        "keras dtype policy": keras.config.dtype_policy().name,
    }
    if TF:
        tf_gen = stateful_random_ops.global_generator
        rng = getattr(context.context(), "_rng", None)
        out.update({
            "TF determinism": tf_config.is_op_determinism_enabled(),
            "TF global seed": context.global_seed(),
            "TF op-seed stream": None if rng is None else rng.getstate(),
            "TF global generator": None if tf_gen is None else (
                id(tf_gen), tf_gen.state.numpy().tolist()
            ),
            "TF thread pools": (
                tf.config.threading.get_intra_op_parallelism_threads(),
                tf.config.threading.get_inter_op_parallelism_threads(),
            ),
            "TF eager mode": tf.executing_eagerly(),
            "TF default graph": (
                id(tf.compat.v1.get_default_graph()),
                len(tf.compat.v1.get_default_graph().get_operations()),
            ),
        })
    return out


before = state()
if mode == "seeded":
    assert before["keras global seed"] == 789
    assert before["keras global SeedGenerator"] is not None
    if TF:
        assert before["TF determinism"] and before["TF global seed"] == 789
        assert before["TF op-seed stream"] is not None
        assert before["TF global generator"] is not None
else:
    assert before["keras global SeedGenerator"] is None
    assert before["keras global seed"] is None

rng = np.random.default_rng(0)
X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
labels = np.array(["a", "b", "c"])[rng.integers(0, 3, 40)]
net = dict(hidden_layer_sizes=(4,), dropout_rate=0.2, batchnorm="input", max_iter=2)
mc_dropout = "return_std" in inspect.signature(
    sknormnet.NormNetRegressor.predict
).parameters
for seed in (0, None):
    reg = sknormnet.NormNetRegressor(**net, random_state=seed).fit(X, y)
    reg.predict(X)
    if mc_dropout:
        reg.predict(X, return_std=True)
    reg.partial_fit(X, y)
    reg.set_params(warm_start=True).fit(X, y)  # a warm start
    reg.set_params(early_stopping=True, warm_start=False).fit(X, y)
    sknormnet.NormNetRegressor(**net, random_state=seed).partial_fit(X, y)
    clf = sknormnet.NormNetClassifier(**net, random_state=seed).fit(X, labels)
    clf.predict_proba(X)
    clf.partial_fit(X, labels)
    sknormnet.NormNetClassifier(**net, random_state=seed).partial_fit(
        X, labels, classes=["a", "b", "c"]
    )
after = state()
changed = sorted(key for key in before if before[key] != after[key])
assert not changed, f"changed: {changed}"
print("clean:", ",".join(sorted(before)))
"""


def run_child(code, backend, *args):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_global_state_untouched_by_first_fit(backend):
    """Importing the backend inside fit draws from global RNGs; fit restores them."""
    if backend == "jax":
        pytest.importorskip("jax")
    assert run_child(FIRST_FIT, backend) == "clean"


@pytest.mark.parametrize("mode", ["seeded", "pristine"])
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_global_state_untouched_by_every_call(backend, mode):
    """fit, predict, partial_fit, warm start and early stopping, both estimators,
    with and without random_state: no global seed, generator or flag changes."""
    if backend == "jax":
        pytest.importorskip("jax")
    last = run_child(EVERY_CALL, backend, mode)
    checked = set(last.removeprefix("clean:").strip().split(","))
    expected = {
        "numpy global RNG",
        "python random",
        "keras global seed",
        "keras global SeedGenerator",
    }
    if backend == "tensorflow":
        expected |= {
            "TF determinism",
            "TF global seed",
            "TF op-seed stream",
            "TF global generator",
            "TF thread pools",
            "TF eager mode",
            "TF default graph",
        }
    assert expected <= checked, last
