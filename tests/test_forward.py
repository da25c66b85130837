"""predict: the NumPy pass over the folded network, against Keras itself."""

import numpy as np
import pytest
from scipy import sparse

from sknormnet import NormNetRegressor

keras = pytest.importorskip("keras")

# (placement, activation): every placement with three activations, every
# activation at least once; 'before_activation' covers both the scale-free
# (relu, identity) and the scaled (swish) BatchNorm.
FORWARD_CASES = [
    (None, "relu"),
    (None, "logistic"),
    (None, "selu"),
    ("input", "tanh"),
    ("input", "elu"),
    ("input", "swish"),
    ("before_dense", "identity"),
    ("before_dense", "gelu"),
    ("before_dense", "logistic"),
    ("before_activation", "relu"),
    ("before_activation", "identity"),
    ("before_activation", "swish"),
    ("after_activation", "tanh"),
    ("after_activation", "gelu"),
    ("after_activation", "selu"),
]


@pytest.fixture(scope="module")
def offset_data():
    """Features far from zero mean / unit variance, so BatchNorm has work to do."""
    rng = np.random.default_rng(0)
    X = rng.normal(loc=2.0, scale=3.0, size=(64, 4))
    y = np.sin(X[:, 0]) + 0.3 * X[:, 1] - 0.1 * X[:, 2] * X[:, 3]
    X_test = rng.normal(loc=2.0, scale=3.0, size=(50, 4))
    return X, y, X_test


def keras_predict(reg, X):
    out = reg.model_(np.asarray(X, dtype="float32"), training=False)
    return keras.ops.convert_to_numpy(out)


N_BATCHNORMS = {
    None: 0,
    "input": 1,
    "before_dense": 3,
    "before_activation": 2,
    "after_activation": 2,
}


@pytest.mark.parametrize("placement, act", FORWARD_CASES)
def test_forward_predict_matches_keras_inference(offset_data, placement, act):
    X, y, X_test = offset_data
    reg = NormNetRegressor(
        hidden_layer_sizes=(8, 6),
        activation=act,
        dropout_rate=0.2,
        batchnorm=placement,
        batchnorm_momentum=0.5,
        batch_size=16,
        learning_rate_init=0.01,
        max_iter=2,
        random_state=0,
    ).fit(X, y)

    bns = [
        layer
        for layer in reg.model_.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert len(bns) == N_BATCHNORMS[placement]
    for layer in bns:
        # Training moved the moving statistics off their initial 0 / 1.
        mean, var = layer.get_weights()[-2:]  # moving mean, moving variance
        assert not (np.allclose(mean, 0.0) and np.allclose(var, 1.0)), layer.name

    pred = reg.predict(X_test)
    assert pred.dtype == np.float64
    assert pred.shape == (len(X_test),)
    expected = keras_predict(reg, X_test).ravel()
    assert np.std(expected) > 1e-3  # not a constant network
    np.testing.assert_allclose(pred, expected, rtol=1e-5, atol=1e-5)
    # One folded Dense layer per Dense layer: BatchNorm leaves no trace.
    assert len(reg.coefs_) == len(reg.intercepts_) == 3
    assert reg.n_layers_ == 4


# ------------------------------------------------------------- shapes, dtypes
@pytest.fixture(scope="module")
def count_data():
    """Integer-valued, mostly-zero features: natural as int, float or sparse."""
    rng = np.random.default_rng(1)
    X = rng.poisson(0.4, size=(60, 5)).astype(np.float64)
    y = X @ np.array([1.0, -1.0, 0.5, 0.0, 2.0]) + 0.1 * rng.normal(size=60)
    return X, y


PARAMS = dict(
    hidden_layer_sizes=(8,),
    dropout_rate=0.1,
    batchnorm="input",
    batch_size=16,
    max_iter=3,
    random_state=0,
)


@pytest.fixture(scope="module")
def dense_fit(count_data):
    X, y = count_data
    return NormNetRegressor(**PARAMS).fit(X, y)


def test_forward_1d_target_gives_1d_float64_predictions(count_data, dense_fit):
    X, _ = count_data
    pred = dense_fit.predict(X)
    assert pred.shape == (len(X),)
    assert pred.dtype == np.float64
    assert dense_fit.n_outputs_ == 1


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_forward_2d_target_gives_2d_predictions(count_data, n_outputs):
    X, y = count_data
    Y = np.column_stack([y, -y][:n_outputs])
    assert Y.shape == (len(X), n_outputs)
    reg = NormNetRegressor(**PARAMS).fit(X, Y)
    pred = reg.predict(X)
    assert pred.shape == (len(X), n_outputs)
    assert pred.dtype == np.float64
    assert reg.n_outputs_ == n_outputs
    np.testing.assert_allclose(
        pred, keras_predict(reg, X).reshape(pred.shape), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_forward_sparse_predict_equals_dense(count_data, dense_fit, fmt):
    X, _ = count_data
    X_sparse = sparse.csr_matrix(X).asformat(fmt)
    expected = dense_fit.predict(X)
    np.testing.assert_allclose(dense_fit.predict(X_sparse), expected, rtol=1e-12)
    # scipy's sparse arrays too, not only matrices
    X_array = sparse.csr_array(X).asformat(fmt)
    np.testing.assert_allclose(dense_fit.predict(X_array), expected, rtol=1e-12)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_forward_sparse_fit_equals_dense_fit(count_data, dense_fit, fmt):
    X, y = count_data
    X_sparse = sparse.csr_matrix(X).asformat(fmt)
    reg = NormNetRegressor(**PARAMS).fit(X_sparse, y)
    # Same float32 training rows, same seeds: the same network.
    for ours, theirs in zip(reg.coefs_, dense_fit.coefs_, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        reg.predict(X_sparse), dense_fit.predict(X), rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int32])
def test_forward_input_dtypes_predict(count_data, dense_fit, dtype):
    X, _ = count_data
    pred = dense_fit.predict(X.astype(dtype))
    assert pred.dtype == np.float64
    np.testing.assert_allclose(pred, dense_fit.predict(X), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_forward_input_dtypes_fit(count_data, dense_fit, dtype):
    X, y = count_data
    X_typed = X.astype(dtype)
    # The values are the same as the float64 fit's, so is the network.
    reg = NormNetRegressor(**PARAMS).fit(X_typed, y)
    pred = reg.predict(X_typed)
    assert pred.dtype == np.float64
    np.testing.assert_allclose(pred, dense_fit.predict(X), rtol=1e-6, atol=1e-7)


def test_forward_fast_input_check_agrees_with_validate_data(offset_data):
    """predict accepts a plain float array of the fitted width through a few
    direct tests; every other input, and every failing one, goes through
    scikit-learn's validation with its usual messages."""
    X, y, X_test = offset_data
    reg = NormNetRegressor(hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    reg.fit(X, y)
    expected = reg.predict(X_test.tolist())  # a list: validate_data's path
    for variant in (
        X_test,
        np.asfortranarray(X_test),
        X_test.astype(np.float32),
        X_test[::2].repeat(2, axis=0),  # a non-contiguous-origin copy
    ):
        np.testing.assert_allclose(
            reg.predict(variant), reg.predict(variant.tolist()), rtol=1e-6
        )
    np.testing.assert_allclose(reg.predict(X_test), expected)
    whole = np.round(X_test)
    np.testing.assert_array_equal(
        reg.predict(whole.astype(np.int64)), reg.predict(whole)
    )
    bad = X_test.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        reg.predict(bad)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        reg.predict(bad)
    with pytest.raises(ValueError, match="X has 3 features, but NormNetRegressor"):
        reg.predict(X_test[:, :3])
    with pytest.raises(ValueError, match="0 sample"):
        reg.predict(X_test[:0])
    with pytest.raises(ValueError, match="Expected 2D array"):
        reg.predict(X_test[0])
