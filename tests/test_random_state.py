"""random_state: reproducible fits, and nothing process-global seeded or consumed."""

import random

import numpy as np
import pytest

from sknormnet import NormNetRegressor

# Keras (and TensorFlow/JAX) imported up front: importing them draws from the
# global RNGs by itself. The first fit in a fresh process, lazy import included,
# is tests/test_global_state.py's business.
keras = pytest.importorskip("keras")

PARAMS = dict(
    hidden_layer_sizes=(16, 8),
    dropout_rate=0.3,
    batchnorm="before_activation",
    batchnorm_momentum=0.5,
    shuffle=True,
    batch_size=16,
    max_iter=4,
    learning_rate_init=0.01,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    y = X[:, 0] - X[:, 1] ** 2 + 0.1 * rng.normal(size=50)
    return X, y


@pytest.fixture(scope="module")
def seeded_fits(data):
    X, y = data
    return {
        name: NormNetRegressor(random_state=seed, **PARAMS).fit(X, y)
        for name, seed in [("0a", 0), ("0b", 0), ("1", 1)]
    }


def test_random_state_int_seed_gives_identical_fits(data, seeded_fits):
    X, _ = data
    a, b = seeded_fits["0a"], seeded_fits["0b"]
    assert np.array_equal(a.predict(X), b.predict(X))
    assert a.loss_curve_ == b.loss_curve_
    for wa, wb in zip(a.model_.get_weights(), b.model_.get_weights(), strict=True):
        assert np.array_equal(wa, wb)


def test_random_state_different_seeds_give_different_fits(data, seeded_fits):
    X, _ = data
    a, c = seeded_fits["0a"], seeded_fits["1"]
    assert not np.allclose(a.predict(X), c.predict(X))
    assert a.loss_curve_ != c.loss_curve_


def test_random_state_randomstate_instance_is_reproducible(data):
    X, y = data
    a = NormNetRegressor(random_state=np.random.RandomState(3), **PARAMS).fit(X, y)
    b = NormNetRegressor(random_state=np.random.RandomState(3), **PARAMS).fit(X, y)
    assert np.array_equal(a.predict(X), b.predict(X))
    assert np.isfinite(a.predict(X)).all()


def _global_rng_state():
    np_state = np.random.get_state()  # noqa: NPY002 - the legacy global RNG
    return (np_state[0], np_state[1].copy(), *np_state[2:]), random.getstate()


def _same_state(s1, s2):
    (np1, py1), (np2, py2) = s1, s2
    return (
        np1[0] == np2[0]
        and np.array_equal(np1[1], np2[1])
        and np1[2:] == np2[2:]
        and py1 == py2
    )


@pytest.mark.parametrize("seed", [0, None])
def test_random_state_global_rngs_untouched_by_fit(data, seeded_fits, seed):
    # seeded_fits: a fit already ran, so every lazy import of the package happened
    X, y = data
    before = _global_rng_state()
    reg = NormNetRegressor(random_state=seed, **PARAMS).fit(X, y)
    reg.predict(X)
    after = _global_rng_state()
    assert _same_state(before, after)


def test_random_state_keras_unseeded_randomness_still_works(data, seeded_fits):
    X, y = data  # seeded_fits: the estimator has been fitted in this process

    # an ordinary unseeded Keras model with Dropout trains
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(X[:, :3], y, epochs=1, batch_size=10, verbose=0)
    assert np.isfinite(history.history["loss"]).all()

    # and unseeded Dropout layers still draw fresh, different masks
    ones = np.ones((1, 256), dtype="float32")
    mask_1 = keras.ops.convert_to_numpy(keras.layers.Dropout(0.5)(ones, training=True))
    mask_2 = keras.ops.convert_to_numpy(keras.layers.Dropout(0.5)(ones, training=True))
    assert 0 < np.count_nonzero(mask_1) < ones.size
    assert not np.array_equal(mask_1, mask_2)


def _is_op_determinism_enabled(tf):
    check = getattr(tf.config.experimental, "is_op_determinism_enabled", None)
    if check is None:  # not public in every TensorFlow release
        from tensorflow.python.framework import config

        check = config.is_op_determinism_enabled
    return check()


def test_random_state_tensorflow_op_determinism_stays_off(seeded_fits):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow backend only")
    import tensorflow as tf

    # seeded_fits: three reproducible fits have run in this process
    assert len(seeded_fits) == 3
    assert not _is_op_determinism_enabled(tf)
