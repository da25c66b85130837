"""Monte-Carlo dropout: ``NormNetRegressor.predict(X, return_std=True)``."""

import keras
import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sknormnet import NormNetRegressor
from sknormnet import _forward as forward_module

FAST = dict(batch_size=32, learning_rate_init=0.01, batchnorm_momentum=0.9)


@pytest.fixture(scope="module")
def curve():
    """y = sin(3x) + noise on x in [-1, 1]: a 1-D problem with a clear data range."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(300, 1))
    y = np.sin(3 * X[:, 0]) + 0.1 * rng.normal(size=300)
    return X, y


@pytest.fixture(scope="module")
def fitted(curve):
    X, y = curve
    return NormNetRegressor(
        hidden_layer_sizes=(32, 32),
        dropout_rate=0.2,
        max_iter=25,
        random_state=0,
        **FAST,
    ).fit(X, y)


def _keras_dropout_passes(model, X, n_passes):
    """Outputs of ``n_passes`` passes of the Keras model with only Dropout training."""
    stacked = np.repeat(X[None].astype(np.float32), n_passes, axis=0)
    h = stacked.reshape(-1, X.shape[1])
    for layer in model.layers:
        h = layer(h, training=isinstance(layer, keras.layers.Dropout))
    return keras.ops.convert_to_numpy(h).reshape(n_passes, X.shape[0])


@pytest.mark.parametrize("batchnorm", [None, "after_activation", "before_activation"])
def test_mc_moments_match_keras_dropout_in_training_mode(curve, batchnorm):
    """The NumPy passes have the distribution of Keras' own dropout passes.

    Keras is run layer by layer with ``training=True`` for Dropout only, so
    BatchNorm uses its moving statistics, as in the folded network.
    """
    X, y = curve
    reg = NormNetRegressor(
        hidden_layer_sizes=(16, 16),
        dropout_rate=0.25,
        batchnorm=batchnorm,
        max_iter=8,
        random_state=1,
        n_mc_samples=3000,
        **FAST,
    ).fit(X, y)
    grid = np.array([[-2.0], [0.0], [0.7]])
    mean, std = reg.predict(grid, return_std=True)
    reference = _keras_dropout_passes(reg.model_, grid, 3000)
    ref_mean, ref_std = reference.mean(axis=0), reference.std(axis=0)
    # the difference of two 3000-pass means has a standard error of
    # about std * sqrt(2 / 3000); allow 4 of them
    assert np.all(np.abs(mean - ref_mean) <= 4 * ref_std * np.sqrt(2 / 3000) + 1e-6)
    np.testing.assert_allclose(std, ref_std, rtol=0.1)


def test_mc_std_matches_closed_form_for_a_linear_network():
    """One identity hidden layer: Var = p / (1 - p) * sum_j (h_j w_j)^2 exactly."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(100, 4))
    y = X @ rng.normal(size=4)
    rate = 0.3
    reg = NormNetRegressor(
        hidden_layer_sizes=(6,),
        activation="identity",
        dropout_rate=rate,
        max_iter=3,
        random_state=0,
        n_mc_samples=40_000,
        **FAST,
    ).fit(X, y)
    rows = X[:3]
    hidden = rows @ reg.coefs_[0] + reg.intercepts_[0]
    out_w = reg.coefs_[1][:, 0]
    expected_std = np.sqrt(rate / (1 - rate) * np.sum((hidden * out_w) ** 2, axis=1))
    mean, std = reg.predict(rows, return_std=True)
    np.testing.assert_allclose(std, expected_std, rtol=0.03)
    # dropout is unbiased for a linear network: the mean is the plain prediction
    np.testing.assert_allclose(
        mean, reg.predict(rows), atol=4 * expected_std.max() / np.sqrt(40_000)
    )


def test_mc_std_grows_away_from_the_training_data(fitted):
    """Trained on x in [-1, 1]: the passes disagree more the further out x lies."""
    inside = fitted.predict(np.linspace(-1, 1, 21)[:, None], return_std=True)[1]
    far = fitted.predict(np.array([[-6.0], [6.0]]), return_std=True)[1]
    farther = fitted.predict(np.array([[-12.0], [12.0]]), return_std=True)[1]
    assert np.all(farther > far)
    assert farther.min() > inside.max()
    assert farther.mean() > 2 * inside.mean()


def test_mc_reproducible_under_random_state(curve, fitted):
    X, y = curve
    first = fitted.predict(X[:20], return_std=True)
    again = fitted.predict(X[:20], return_std=True)
    twin = clone(fitted).fit(X, y).predict(X[:20], return_std=True)
    for a, b, c in zip(first, again, twin, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    # other masks with another seed: the same network, different passes
    other = clone(fitted).set_params(random_state=None)
    other.__dict__.update(
        {k: v for k, v in fitted.__dict__.items() if k.endswith("_") or k[0] == "_"}
    )
    assert not np.array_equal(other.predict(X[:20], return_std=True)[1], first[1])


def test_mc_random_state_none_draws_fresh_masks(curve):
    X, y = curve
    reg = NormNetRegressor(
        hidden_layer_sizes=(8,), dropout_rate=0.3, max_iter=2, **FAST
    ).fit(X, y)
    a = reg.predict(X[:5], return_std=True)[1]
    b = reg.predict(X[:5], return_std=True)[1]
    assert not np.array_equal(a, b)


def test_mc_shapes_one_and_multi_output(curve, fitted):
    X, y = curve
    mean, std = fitted.predict(X[:7], return_std=True)
    assert mean.shape == std.shape == (7,)
    assert np.all(np.isfinite(mean)) and np.all(std > 0)
    Y = np.column_stack([y, -y, 2 * y])
    multi = NormNetRegressor(
        hidden_layer_sizes=(8,), dropout_rate=0.2, max_iter=2, random_state=0, **FAST
    ).fit(X, Y)
    mean, std = multi.predict(X[:7], return_std=True)
    assert mean.shape == std.shape == (7, 3)


def test_mc_passes_are_stacked_in_row_chunks(curve, fitted, monkeypatch):
    """A small chunk budget splits the rows; every row still gets its own passes."""
    X, _ = curve
    whole_mean, whole_std = fitted.predict(X, return_std=True)
    # float32 x 100 passes x 32 units x 10 rows per chunk: 30 chunks
    monkeypatch.setattr(forward_module, "_MC_CHUNK_BYTES", 4 * 100 * 32 * 10)
    mean, std = fitted.predict(X, return_std=True)
    assert mean.shape == std.shape == (300,)
    # other masks, the same distribution: close to the one-chunk figures
    assert not np.array_equal(std, whole_std)
    np.testing.assert_allclose(std.mean(), whole_std.mean(), rtol=0.1)
    np.testing.assert_allclose(mean, whole_mean, atol=4 * whole_std.max() / 5)


def test_mc_sparse_input_equals_dense(curve):
    X, y = curve
    Xw = np.column_stack([X, np.zeros_like(X), X**2])
    reg = NormNetRegressor(
        hidden_layer_sizes=(8,), dropout_rate=0.2, max_iter=2, random_state=0, **FAST
    ).fit(Xw, y)
    dense = reg.predict(Xw[:30], return_std=True)
    sparse_ = reg.predict(sparse.csr_matrix(Xw[:30]), return_std=True)
    for a, b in zip(dense, sparse_, strict=True):
        # the same masks; float32 sums in another order
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_mc_through_a_pipeline(curve):
    X, y = curve
    pipe = make_pipeline(
        StandardScaler(),
        NormNetRegressor(
            hidden_layer_sizes=(8,),
            dropout_rate=0.2,
            max_iter=2,
            random_state=0,
            **FAST,
        ),
    ).fit(X, y)
    mean, std = pipe.predict(X[:4], return_std=True)
    direct = pipe[-1].predict(pipe[0].transform(X[:4]), return_std=True)
    np.testing.assert_array_equal(mean, direct[0])
    np.testing.assert_array_equal(std, direct[1])


@pytest.mark.parametrize("dropout_rate", [0.0, (0.0, 0.0)])
def test_mc_without_dropout_is_an_error_and_changes_nothing(curve, dropout_rate):
    X, y = curve
    reg = NormNetRegressor(
        hidden_layer_sizes=(8, 8),
        dropout_rate=dropout_rate,
        max_iter=2,
        random_state=0,
        **FAST,
    ).fit(X, y)
    before = reg.predict(X[:5])
    with pytest.raises(ValueError, match=r"needs dropout.*dropout_rate > 0"):
        reg.predict(X[:5], return_std=True)
    np.testing.assert_array_equal(reg.predict(X[:5]), before)


def test_mc_with_dropout_on_one_layer_only(curve):
    X, y = curve
    reg = NormNetRegressor(
        hidden_layer_sizes=(8, 8),
        # tanh: no unit is switched off for a whole row, as relu's can be,
        # so dropping any of them moves the output
        activation="tanh",
        dropout_rate=(0.0, 0.3),
        max_iter=2,
        random_state=0,
        **FAST,
    ).fit(X, y)
    _, std = reg.predict(X[:5], return_std=True)
    assert np.all(std > 0)


def test_mc_input_checks(curve, fitted):
    X, y = curve
    with pytest.raises(NotFittedError):
        NormNetRegressor(dropout_rate=0.2).predict(X, return_std=True)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(np.ones((3, 2)), return_std=True)
    with pytest.raises(InvalidParameterError, match="n_mc_samples"):
        NormNetRegressor(n_mc_samples=1).fit(X, y)
