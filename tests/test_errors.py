"""Bad input: clear errors, and a failed fit leaves the estimator as it was."""

import re

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from sknormnet import NormNetRegressor

pd = pytest.importorskip("pandas")

COLUMNS = ["a", "b", "c", "d"]
PARAMS = dict(hidden_layer_sizes=(8,), max_iter=3, random_state=0)


@pytest.fixture(scope="module")
def data(easy_regression):
    X, y = easy_regression
    return X[:60], y[:60]


@pytest.fixture(scope="module")
def frame_fit(data):
    """Fitted on a DataFrame: has feature_names_in_."""
    X, y = data
    return NormNetRegressor(**PARAMS).fit(pd.DataFrame(X, columns=COLUMNS), y)


def with_value(X, value, where=(3, 1)):
    X = np.array(X, dtype=np.float64)
    X[where] = value
    return X


def strings(X):
    X = X.astype(object)
    X[2, 0] = "abc"
    return X


# name -> (X, y) maker, message fragment
BAD_FITS = {
    "nan_in_X": (lambda X, y: (with_value(X, np.nan), y), "Input X contains NaN"),
    "inf_in_X": (lambda X, y: (with_value(X, np.inf), y), "Input X contains infinity"),
    "nan_in_y": (lambda X, y: (X, with_value(y, np.nan, 5)), "Input y contains NaN"),
    "inf_in_y": (
        lambda X, y: (X, with_value(y, -np.inf, 5)),
        "Input y contains infinity",
    ),
    "empty_X": (lambda X, y: (X[:0], y[:0]), "0 sample(s)"),
    "no_features": (lambda X, y: (X[:, :0], y), "0 feature(s)"),
    "strings_in_X": (
        lambda X, y: (strings(X), y),
        "could not convert string to float",
    ),
    "y_wrong_length": (
        lambda X, y: (X, y[:-3]),
        "inconsistent numbers of samples",
    ),
    "X_too_large_for_float32": (
        lambda X, y: (with_value(X, 1e39), y),
        "too large for float32",
    ),
    "X_too_large_for_float32_negative": (
        lambda X, y: (with_value(X, -1e39), y),
        "too large for float32",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FITS))
def test_errors_bad_fit_input_raises_and_leaves_unfitted(data, case):
    make, message = BAD_FITS[case]
    X, y = make(*data)
    reg = NormNetRegressor(**PARAMS)
    with pytest.raises(ValueError, match=re.escape(message)):
        reg.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(reg)
    assert set(vars(reg)) == set(reg.get_params())


def test_errors_too_large_for_float32_in_sparse_X(data):
    sparse = pytest.importorskip("scipy.sparse")
    X, y = data
    X_sparse = sparse.csr_matrix(with_value(X, 1e39))
    with pytest.raises(ValueError, match="float32"):
        NormNetRegressor(**PARAMS).fit(X_sparse, y)


def test_errors_y_too_large_for_float32_names_float32(data):
    X, y = data
    reg = NormNetRegressor(**PARAMS)
    with pytest.raises(ValueError, match="float32"):
        reg.fit(X, with_value(y, 1e39, 5))


@pytest.mark.parametrize("case", list(BAD_FITS))
def test_errors_failed_refit_keeps_fitted_estimator(data, frame_fit, case):
    make, message = BAD_FITS[case]
    X, y = make(*data)
    X_frame = pd.DataFrame(data[0], columns=COLUMNS)
    before = dict(vars(frame_fit))
    pred = frame_fit.predict(X_frame)

    with pytest.raises(ValueError, match=re.escape(message)):
        frame_fit.fit(X, y)  # an ndarray: a successful fit would drop the names

    assert set(vars(frame_fit)) == set(before)
    assert all(vars(frame_fit)[key] is value for key, value in before.items())
    assert frame_fit.n_features_in_ == 4
    assert list(frame_fit.feature_names_in_) == COLUMNS
    assert np.array_equal(frame_fit.predict(X_frame), pred)


# name -> X maker (from the training DataFrame), message fragment
BAD_PREDICTS = {
    "nan_in_X": (lambda F: with_value(F.to_numpy(), np.nan), "Input X contains NaN"),
    "inf_in_X": (
        lambda F: with_value(F.to_numpy(), np.inf),
        "Input X contains infinity",
    ),
    "empty_X": (lambda F: F.iloc[:0], "0 sample(s)"),
    "too_few_features": (
        lambda F: F.to_numpy()[:, :3],
        "X has 3 features, but NormNetRegressor is expecting 4 features",
    ),
    "too_many_features": (
        lambda F: np.hstack([F.to_numpy(), F.to_numpy()[:, :1]]),
        "X has 5 features, but NormNetRegressor is expecting 4 features",
    ),
    "strings_in_X": (
        lambda F: strings(F.to_numpy()),
        "could not convert string to float",
    ),
    "renamed_columns": (
        lambda F: F.rename(columns={"c": "z"}),
        "feature names should match those that were passed during fit",
    ),
    "reordered_columns": (
        lambda F: F[["b", "a", "c", "d"]],
        "Feature names must be in the same order as they were in fit",
    ),
}


# ndarray input to an estimator fitted on a DataFrame warns before it fails
@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
@pytest.mark.parametrize("case", list(BAD_PREDICTS))
def test_errors_bad_predict_input_raises(data, frame_fit, case):
    make, message = BAD_PREDICTS[case]
    X_frame = pd.DataFrame(data[0], columns=COLUMNS)
    pred = frame_fit.predict(X_frame)
    with pytest.raises(ValueError, match=re.escape(message)):
        frame_fit.predict(make(X_frame))
    # still usable
    assert np.array_equal(frame_fit.predict(X_frame), pred)


def test_errors_predict_before_fit_raises_not_fitted(data):
    X, _ = data
    reg = NormNetRegressor()
    with pytest.raises(NotFittedError, match="not fitted yet"):
        reg.predict(X)
    assert set(vars(reg)) == set(reg.get_params())


DIVERGING = dict(
    hidden_layer_sizes=(16,),
    solver="sgd",
    momentum=0.0,
    learning_rate_init=10.0,
    max_iter=20,
    random_state=0,
)


def divergence_data(easy_regression):
    X, y = easy_regression
    return X * 1000, y * 1000


def test_errors_divergence_raises_and_leaves_unfitted(easy_regression):
    X, y = divergence_data(easy_regression)
    reg = NormNetRegressor(**DIVERGING)
    with pytest.raises(ValueError, match=r"diverged at epoch \d+") as info:
        reg.fit(X, y)
    message = str(info.value)
    assert "batchnorm" in message
    assert "scale" in message.lower()
    assert "learning_rate_init" in message
    with pytest.raises(NotFittedError):
        check_is_fitted(reg)
    assert set(vars(reg)) == set(reg.get_params())


@pytest.mark.parametrize("warm_start", [False, True])
def test_errors_divergence_keeps_previous_fit(easy_regression, warm_start):
    X, y = easy_regression
    reg = NormNetRegressor(
        **{**DIVERGING, "learning_rate_init": 0.01, "max_iter": 3},
        warm_start=warm_start,
    ).fit(X, y)
    pred = reg.predict(X)
    weights = reg.model_.get_weights()
    before = dict(vars(reg))

    # warm_start=True trains the very same Keras model in place: it must be
    # put back as well.
    reg.set_params(learning_rate_init=10.0, max_iter=20)
    with pytest.raises(ValueError, match="diverged"):
        reg.fit(*divergence_data(easy_regression))
    reg.set_params(
        learning_rate_init=before["learning_rate_init"], max_iter=before["max_iter"]
    )

    assert set(vars(reg)) == set(before)
    assert all(vars(reg)[key] is value for key, value in before.items())
    assert np.array_equal(reg.predict(X), pred)
    for now, then in zip(reg.model_.get_weights(), weights, strict=True):
        assert np.array_equal(now, then)
