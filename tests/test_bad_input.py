"""Bad input to both estimators: a clear error, or a documented correct result.

Every failing call is made on a fitted estimator too, which must come out of
it unchanged: the same fitted objects, weights, ``n_iter_`` and predictions.
``tests/test_errors.py`` covers the regressor's basic cases and divergence;
this module covers both estimators, every entry point (``fit``,
``partial_fit``, the validation set, the prediction methods) and every
constructor parameter. ``docs/reliability.rst`` summarises the results.
"""

import re

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted

from sknormnet import NormNetClassifier, NormNetRegressor

pd = pytest.importorskip("pandas")

# type_of_target casts float labels to int to test them (the 1e30 label case)
pytestmark = pytest.mark.filterwarnings(
    "ignore:invalid value encountered in cast:RuntimeWarning"
)

N_ROWS, COLUMNS = 40, ["a", "b", "c"]
PARAMS = dict(hidden_layer_sizes=(5,), max_iter=2, random_state=0)
KINDS = ["regressor", "classifier"]
ESTIMATORS = {"regressor": NormNetRegressor, "classifier": NormNetClassifier}


def make_data(kind):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_ROWS, len(COLUMNS)))
    if kind == "regressor":
        y = X[:, 0] - 0.5 * X[:, 1] + 0.05 * rng.normal(size=N_ROWS)
    else:
        y = np.array(["low", "mid", "high"])[np.digitize(X[:, 0], [-0.4, 0.4])]
    return X, y


def make(kind, **params):
    return ESTIMATORS[kind](**{**PARAMS, **params})


def outputs(est, X):
    """Everything the estimator predicts for X."""
    if isinstance(est, NormNetClassifier):
        return [est.predict(X), est.predict_proba(X), est.decision_function(X)]
    return [est.predict(X)]


def snapshot(est, X):
    from sknormnet._model import get_weights, host_array

    model = est.model_  # built when first read: before vars() is copied
    return {
        "vars": dict(vars(est)),
        "coefs": [c.copy() for c in est.coefs_],
        "intercepts": [b.copy() for b in est.intercepts_],
        "n_iter": est.n_iter_,
        "loss_curve": list(est.loss_curve_),
        "weights": get_weights(model),
        "optimizer": [host_array(v) for v in model.optimizer.variables],
        "outputs": outputs(est, X),
    }


def assert_unchanged(est, before, X):
    """The estimator holds the very same fitted state and predicts the same."""
    from sknormnet._model import get_weights, host_array

    after = vars(est)
    assert set(after) == set(before["vars"])
    changed = [k for k, v in before["vars"].items() if after[k] is not v]
    assert not changed, f"attributes replaced: {changed}"
    assert est.n_iter_ == before["n_iter"]
    assert est.loss_curve_ == before["loss_curve"]
    for now, then in zip(est.coefs_, before["coefs"], strict=True):
        assert np.array_equal(now, then)
    for now, then in zip(est.intercepts_, before["intercepts"], strict=True):
        assert np.array_equal(now, then)
    for now, then in zip(get_weights(est.model_), before["weights"], strict=True):
        assert np.array_equal(now, then)
    optimizer = [host_array(v) for v in est.model_.optimizer.variables]
    for now, then in zip(optimizer, before["optimizer"], strict=True):
        assert np.array_equal(now, then)
    for now, then in zip(outputs(est, X), before["outputs"], strict=True):
        assert np.array_equal(now, then)


def assert_unfitted(est):
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
    assert set(vars(est)) == set(est.get_params())


@pytest.fixture(scope="module")
def data():
    return {kind: make_data(kind) for kind in KINDS}


@pytest.fixture(scope="module")
def fitted(data):
    """One fitted estimator per kind, shared: every failing call must leave it as it was."""
    return {kind: make(kind).fit(*data[kind]) for kind in KINDS}


@pytest.fixture(scope="module")
def frame_fitted(data):
    """Fitted on DataFrames: has ``feature_names_in_``."""
    return {
        kind: make(kind).fit(
            pd.DataFrame(data[kind][0], columns=COLUMNS), data[kind][1]
        )
        for kind in KINDS
    }


# ----------------------------------------------------------------- helpers
def with_value(a, value, where):
    a = np.array(a, dtype=np.float64)
    a[where] = value
    return a


def with_string(X):
    X = X.astype(object)
    X[2, 1] = "abc"
    return X


def other_y(kind, y):
    """A second output column, for multi-output targets."""
    if kind == "regressor":
        return np.column_stack([y, 2 * y])
    indicator = np.column_stack([y == "low", y == "high"]).astype(float)
    return indicator


def assert_same_outputs(got, expected, exact=True):
    """Labels equal; numbers equal, or (``exact=False``) to float64 rounding."""
    for a, b in zip(got, expected, strict=True):
        if exact or a.dtype.kind not in "fc":
            assert np.array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def frame_with(X, **columns):
    frame = pd.DataFrame(X[:, :1], columns=["a"])
    for name, values in columns.items():
        frame[name] = values
    return frame


# -------------------------------------------------------- bad fit-time data
# name -> (function (kind, X, y) -> (X, y, fit kwargs), message regex, kinds)
# Each case is run with fit on a fresh estimator, fit on a fitted one, and
# (unless it uses fit-only arguments) partial_fit on a fitted one.
BAD_FITS = {
    "nan_in_X": (
        lambda k, X, y: (with_value(X, np.nan, (3, 1)), y, {}),
        "Input X contains NaN",
        KINDS,
    ),
    "inf_in_X": (
        lambda k, X, y: (with_value(X, np.inf, (3, 1)), y, {}),
        "Input X contains infinity",
        KINDS,
    ),
    "minus_inf_in_X": (
        lambda k, X, y: (with_value(X, -np.inf, (3, 1)), y, {}),
        "Input X contains infinity",
        KINDS,
    ),
    # 1e30 fits in float32 but its square does not: Adam's second moment
    # overflows and silently freezes the weights it touches (it used to train)
    "1e30_in_X": (
        lambda k, X, y: (with_value(X, 1e30, (3, 1)), y, {}),
        r"too large for float32 training \(largest magnitude 1e\+30",
        KINDS,
    ),
    "1e39_in_X": (
        lambda k, X, y: (with_value(X, -1e39, (3, 1)), y, {}),
        "too large for float32",
        KINDS,
    ),
    "1e30_in_sparse_X": (
        lambda k, X, y: (sparse.csc_matrix(with_value(X, 1e30, (3, 1))), y, {}),
        "too large for float32 training",
        KINDS,
    ),
    "nan_in_sparse_X": (
        lambda k, X, y: (sparse.csr_matrix(with_value(X, np.nan, (3, 1))), y, {}),
        "Input X contains NaN",
        KINDS,
    ),
    "nan_in_y": (
        lambda k, X, y: (X, with_value(y, np.nan, 5), {}),
        "Input y contains NaN",
        ["regressor"],
    ),
    "inf_in_y": (
        lambda k, X, y: (X, with_value(y, np.inf, 5), {}),
        "Input y contains infinity",
        ["regressor"],
    ),
    "1e30_in_y": (
        lambda k, X, y: (X, with_value(y, 1e30, 5), {}),
        r"Input y contains values too large for float32 training",
        ["regressor"],
    ),
    "1e39_in_y": (
        lambda k, X, y: (X, with_value(y, 1e39, 5), {}),
        "too large for float32",
        ["regressor"],
    ),
    "nan_label": (
        lambda k, X, y: (X, with_value(np.arange(len(y)) % 2, np.nan, 5), {}),
        "Input y contains NaN",
        ["classifier"],
    ),
    # scikit-learn calls float labels that do not fit an int continuous
    "1e30_float_label": (
        lambda k, X, y: (X, with_value(np.arange(len(y)) % 2, 1e30, 5), {}),
        "Unknown label type: continuous",
        ["classifier"],
    ),
    "continuous_labels": (
        lambda k, X, y: (X, X[:, 0], {}),
        "Unknown label type: continuous",
        ["classifier"],
    ),
    "non_numeric_regression_target": (
        lambda k, X, y: (X, np.where(y > 0, "up", "down"), {}),
        "NormNetRegressor needs a numeric target y.*could not convert",
        ["regressor"],
    ),
    "multi_output_y_with_a_nan_column": (
        lambda k, X, y: (
            X,
            np.column_stack([other_y(k, y), np.full(len(y), np.nan)]),
            {},
        ),
        "Input y contains NaN",
        KINDS,
    ),
    "y_3d": (
        lambda k, X, y: (X, np.asarray(y).reshape(-1, 1, 1), {}),
        "Found array with dim 3",
        KINDS,
    ),
    "y_none": (
        lambda k, X, y: (X, None, {}),
        "requires y to be passed",
        KINDS,
    ),
    "y_too_short": (
        lambda k, X, y: (X, y[:-3], {}),
        r"inconsistent numbers of samples: \[40, 37\]",
        KINDS,
    ),
    "y_too_long": (
        lambda k, X, y: (X, np.concatenate([y, y[:2]]), {}),
        r"inconsistent numbers of samples: \[40, 42\]",
        KINDS,
    ),
    "empty_X_and_y": (
        lambda k, X, y: (X[:0], y[:0], {}),
        r"0 sample\(s\)",
        KINDS,
    ),
    "no_features": (
        lambda k, X, y: (X[:, :0], y, {}),
        r"0 feature\(s\)",
        KINDS,
    ),
    "X_1d": (
        lambda k, X, y: (X[:, 0], y, {}),
        "Expected 2D array, got 1D array",
        KINDS,
    ),
    "X_3d": (
        lambda k, X, y: (X[:, :, None], y, {}),
        "Found array with dim 3",
        KINDS,
    ),
    "complex_X": (
        lambda k, X, y: (X + 1j, y, {}),
        "Complex data not supported",
        KINDS,
    ),
    "string_in_object_X": (
        lambda k, X, y: (with_string(X), y, {}),
        "could not convert string to float: 'abc'",
        KINDS,
    ),
    "frame_numeric_and_string_columns": (
        lambda k, X, y: (frame_with(X, b=["x", "y"] * (len(y) // 2)), y, {}),
        "could not convert string to float",
        KINDS,
    ),
    "frame_categorical_column": (
        lambda k, X, y: (
            frame_with(X, b=pd.Categorical(["u", "v"] * (len(y) // 2))),
            y,
            {},
        ),
        "could not convert string to float",
        KINDS,
    ),
    "frame_nullable_int_with_NA": (
        lambda k, X, y: (
            frame_with(X, b=pd.array([1, None] * (len(y) // 2), dtype="Int64")),
            y,
            {},
        ),
        "Input X contains NaN",
        KINDS,
    ),
    "sample_weight_too_short": (
        lambda k, X, y: (X, y, {"sample_weight": np.ones(len(y) - 1)}),
        r"sample_weight.shape == \(39,\), expected \(40,\)",
        KINDS,
    ),
    "sample_weight_negative": (
        lambda k, X, y: (X, y, {"sample_weight": with_value(np.ones(len(y)), -1, 4)}),
        "Negative values in data passed to `sample_weight`",
        KINDS,
    ),
    "sample_weight_nan": (
        lambda k, X, y: (
            X,
            y,
            {"sample_weight": with_value(np.ones(len(y)), np.nan, 4)},
        ),
        "Input sample_weight contains NaN",
        KINDS,
    ),
    "sample_weight_inf": (
        lambda k, X, y: (
            X,
            y,
            {"sample_weight": with_value(np.ones(len(y)), np.inf, 4)},
        ),
        "Input sample_weight contains infinity",
        KINDS,
    ),
    "sample_weight_all_zero": (
        lambda k, X, y: (X, y, {"sample_weight": np.zeros(len(y))}),
        "at least one non-zero",
        KINDS,
    ),
    "sample_weight_2d": (
        lambda k, X, y: (X, y, {"sample_weight": np.ones((len(y), 1))}),
        "Sample weights must be 1D",
        KINDS,
    ),
}

# fit only: partial_fit has no validation set and no early stopping
BAD_FITS_FIT_ONLY = {
    "X_val_without_y_val": (
        lambda k, X, y: (X, y, {"X_val": X}),
        "X_val and y_val must be passed together",
        KINDS,
    ),
    "y_val_without_X_val": (
        lambda k, X, y: (X, y, {"y_val": y}),
        "X_val and y_val must be passed together",
        KINDS,
    ),
    "X_val_wrong_width": (
        lambda k, X, y: (X, y, {"X_val": X[:, :2], "y_val": y}),
        "Invalid X_val: X has 2 features, but .* is expecting 3",
        KINDS,
    ),
    "X_val_nan": (
        lambda k, X, y: (X, y, {"X_val": with_value(X, np.nan, (0, 0)), "y_val": y}),
        "Invalid X_val: Input X contains NaN",
        KINDS,
    ),
    "X_val_empty": (
        lambda k, X, y: (X, y, {"X_val": X[:0], "y_val": y[:0]}),
        r"Invalid X_val: .*0 sample\(s\)",
        KINDS,
    ),
    "X_val_y_val_lengths_differ": (
        lambda k, X, y: (X, y, {"X_val": X, "y_val": y[:5]}),
        r"X_val and y_val: .*inconsistent numbers of samples: \[40, 5\]",
        KINDS,
    ),
    "y_val_nan": (
        lambda k, X, y: (X, y, {"X_val": X, "y_val": with_value(y, np.nan, 0)}),
        "Input y_val contains NaN",
        ["regressor"],
    ),
    "y_val_more_outputs_than_y": (
        lambda k, X, y: (X, y, {"X_val": X, "y_val": other_y(k, y)}),
        "y_val has 2 outputs but y has 1",
        ["regressor"],
    ),
    "y_val_multilabel_for_multiclass_y": (
        lambda k, X, y: (X, y, {"X_val": X, "y_val": other_y(k, y)}),
        "y_val is a multilabel indicator matrix",
        ["classifier"],
    ),
    "y_val_unseen_label": (
        lambda k, X, y: (X, y, {"X_val": X, "y_val": np.where(y == "low", "zzz", y)}),
        "`y_val` has classes not in `self.classes_`",
        ["classifier"],
    ),
    "sample_weight_val_without_X_val": (
        lambda k, X, y: (X, y, {"sample_weight_val": np.ones(len(y))}),
        "sample_weight_val is given but X_val and y_val are not",
        KINDS,
    ),
    "sample_weight_val_wrong_length": (
        lambda k, X, y: (
            X,
            y,
            {"X_val": X, "y_val": y, "sample_weight_val": np.ones(3)},
        ),
        r"Invalid sample_weight_val: sample_weight.shape == \(3,\), expected \(40,\)",
        KINDS,
    ),
    "sample_weight_val_negative": (
        lambda k, X, y: (
            X,
            y,
            {"X_val": X, "y_val": y, "sample_weight_val": -np.ones(len(y))},
        ),
        "Invalid sample_weight_val: Negative values",
        KINDS,
    ),
    "early_stopping_one_row": (
        lambda k, X, y: (X[:1], y[:1], {}),
        "early_stopping=True (could not hold out|needs rows on both sides)",
        ["regressor"],
    ),
    "early_stopping_groups_wrong_length": (
        lambda k, X, y: (X, y, {"groups": np.arange(len(y) - 1)}),
        "inconsistent numbers of samples",
        KINDS,
    ),
}

# cases whose estimator needs parameters besides PARAMS
CASE_PARAMS = {
    "early_stopping_one_row": {"early_stopping": True},
    "early_stopping_groups_wrong_length": {"early_stopping": True},
}


def _cases(table):
    return [
        pytest.param(kind, name, id=f"{kind}-{name}")
        for name, (_, _, kinds) in table.items()
        for kind in kinds
    ]


ALL_FITS = {**BAD_FITS, **BAD_FITS_FIT_ONLY}


@pytest.mark.parametrize("kind, case", _cases(ALL_FITS))
def test_bad_fit_input_on_fresh_estimator_raises_and_leaves_it_unfitted(
    data, kind, case
):
    build, message, _ = ALL_FITS[case]
    X, y, kwargs = build(kind, *data[kind])
    est = make(kind, **CASE_PARAMS.get(case, {}))
    with pytest.raises(ValueError, match=message):
        est.fit(X, y, **kwargs)
    assert_unfitted(est)


@pytest.mark.parametrize("kind, case", _cases(ALL_FITS))
def test_bad_fit_input_on_fitted_estimator_leaves_it_unchanged(
    data, fitted, kind, case
):
    build, message, _ = ALL_FITS[case]
    X, y, kwargs = build(kind, *data[kind])
    est = fitted[kind]
    before = snapshot(est, data[kind][0])
    extra = CASE_PARAMS.get(case, {})
    saved = {name: getattr(est, name) for name in extra}
    est.set_params(**extra)
    try:
        with pytest.raises(ValueError, match=message):
            est.fit(X, y, **kwargs)
    finally:
        est.set_params(**saved)
    assert_unchanged(est, before, data[kind][0])


# a DataFrame case given to an estimator fitted on an ndarray warns first
@pytest.mark.filterwarnings("ignore:X has feature names:UserWarning")
@pytest.mark.parametrize("warm_start", [False, True], ids=["partial_fit", "warm_start"])
@pytest.mark.parametrize("kind, case", _cases(BAD_FITS))
def test_bad_input_to_continued_training_leaves_estimator_unchanged(
    data, fitted, kind, case, warm_start
):
    """partial_fit and warm-started fit train the fitted network in place."""
    build, message, _ = BAD_FITS[case]
    X, y, kwargs = build(kind, *data[kind])
    est = fitted[kind]
    before = snapshot(est, data[kind][0])
    if warm_start:
        est.set_params(warm_start=True)
    try:
        with pytest.raises(ValueError, match=message):
            if warm_start:
                est.fit(X, y, **kwargs)
            else:
                est.partial_fit(X, y, **kwargs)
    finally:
        est.set_params(warm_start=False)
    assert_unchanged(est, before, data[kind][0])


# ------------------------------------------------------ bad predict-time data
# name -> (function X -> bad X, message regex)
BAD_PREDICTS = {
    "nan": (lambda X: with_value(X, np.nan, (1, 1)), "Input X contains NaN"),
    "inf": (lambda X: with_value(X, np.inf, (1, 1)), "Input X contains infinity"),
    "nan_sparse": (
        lambda X: sparse.csr_matrix(with_value(X, np.nan, (1, 1))),
        "Input X contains NaN",
    ),
    "empty": (lambda X: X[:0], r"0 sample\(s\)"),
    "one_dimensional": (lambda X: X[0], "Expected 2D array, got 1D array"),
    "three_dimensional": (lambda X: X[:, :, None], "Found array with dim 3"),
    "too_few_features": (lambda X: X[:, :2], "X has 2 features, but .* expecting 3"),
    "too_many_features": (
        lambda X: np.hstack([X, X[:, :1]]),
        "X has 4 features, but .* expecting 3",
    ),
    "one_feature": (lambda X: X[:, :1], "X has 1 features, but .* expecting 3"),
    "string": (lambda X: with_string(X), "could not convert string to float"),
    "complex": (lambda X: X + 1j, "Complex data not supported"),
}


def predict_methods(kind):
    if kind == "classifier":
        return ["predict", "predict_proba", "predict_log_proba", "decision_function"]
    return ["predict"]


@pytest.mark.parametrize("case", list(BAD_PREDICTS))
@pytest.mark.parametrize("kind", KINDS)
def test_bad_predict_input_raises_and_leaves_estimator_unchanged(
    data, fitted, kind, case
):
    make_bad, message = BAD_PREDICTS[case]
    X = data[kind][0]
    est = fitted[kind]
    before = snapshot(est, X)
    for method in [*predict_methods(kind), "score"]:
        args = (make_bad(X),) if method != "score" else (make_bad(X), data[kind][1])
        with pytest.raises(ValueError, match=message):
            getattr(est, method)(*args)
    assert_unchanged(est, before, X)


@pytest.mark.parametrize("kind", KINDS)
def test_predict_before_fit_raises_not_fitted(data, kind):
    X, _ = data[kind]
    est = make(kind)
    for method in predict_methods(kind):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            getattr(est, method)(X)
    assert_unfitted(est)


# --------------------------------------------------- DataFrame column checks
# name -> (function frame -> bad frame, message regex)
BAD_COLUMNS = {
    "renamed": (
        lambda F: F.rename(columns={"b": "z"}),
        r"(?s)Feature names unseen at fit time:\n- z.*seen at fit time, yet now "
        r"missing:\n- b",
    ),
    # the same names in another order: a silent misprediction unless refused
    "reordered": (
        lambda F: F[["b", "a", "c"]],
        "Feature names must be in the same order as they were in fit",
    ),
    "extra_column": (
        lambda F: F.assign(d=1.0),
        r"Feature names unseen at fit time:\n- d",
    ),
    "missing_column": (
        lambda F: F[["a", "b"]],
        r"Feature names seen at fit time, yet now missing:\n- c",
    ),
}


@pytest.mark.parametrize("case", list(BAD_COLUMNS))
@pytest.mark.parametrize("kind", KINDS)
def test_bad_columns_at_predict_raise(data, frame_fitted, kind, case):
    change, message = BAD_COLUMNS[case]
    X, _ = data[kind]
    frame = pd.DataFrame(X, columns=COLUMNS)
    est = frame_fitted[kind]
    before = snapshot(est, frame)
    for method in predict_methods(kind):
        with pytest.raises(ValueError, match=message):
            getattr(est, method)(change(frame))
    assert_unchanged(est, before, frame)


@pytest.mark.parametrize("case", list(BAD_COLUMNS))
@pytest.mark.parametrize("how", ["partial_fit", "warm_start", "X_val"])
@pytest.mark.parametrize("kind", KINDS)
def test_bad_columns_when_training_continues_raise(data, frame_fitted, kind, case, how):
    """Continued training and the validation set check the names seen at fit."""
    change, message = BAD_COLUMNS[case]
    X, y = data[kind]
    frame = pd.DataFrame(X, columns=COLUMNS)
    est = frame_fitted[kind]
    before = snapshot(est, frame)
    est.set_params(warm_start=how == "warm_start")
    try:
        with pytest.raises(ValueError, match=message):
            if how == "partial_fit":
                est.partial_fit(change(frame), y)
            elif how == "warm_start":
                est.fit(change(frame), y)
            else:
                est.fit(frame, y, X_val=change(frame), y_val=y)
    finally:
        est.set_params(warm_start=False)
    assert_unchanged(est, before, frame)


@pytest.mark.parametrize("kind", KINDS)
def test_columns_ndarray_for_frame_fit_warns_and_predicts_by_position(
    data, frame_fitted, kind
):
    """Documented: no names to check, so scikit-learn warns and goes by position."""
    X, _ = data[kind]
    est = frame_fitted[kind]
    expected = outputs(est, pd.DataFrame(X, columns=COLUMNS))
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        got = outputs(est, X)
    for a, b in zip(got, expected, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_columns_frame_for_ndarray_fit_warns_and_predicts_by_position(
    data, fitted, kind
):
    X, _ = data[kind]
    est = fitted[kind]
    expected = outputs(est, X)
    with pytest.warns(UserWarning, match="X has feature names, but"):
        got = outputs(est, pd.DataFrame(X, columns=["q", "r", "s"]))
    for a, b in zip(got, expected, strict=True):
        assert np.array_equal(a, b)


# --------------------------------------------- accepted, documented results
@pytest.mark.parametrize("kind", KINDS)
def test_sparse_with_explicit_zeros_equals_dense(data, kind):
    X, y = data[kind]
    X_sparse = sparse.csr_matrix(X)
    X_sparse.data[::3] = 0.0  # stored zeros: still entries of the matrix
    assert X_sparse.nnz == X.size
    X_dense = X_sparse.toarray()
    on_sparse = make(kind).fit(X_sparse, y)
    on_dense = make(kind).fit(X_dense, y)
    for a, b in zip(on_sparse.coefs_, on_dense.coefs_, strict=True):
        assert np.array_equal(a, b)
    assert on_sparse.loss_curve_ == on_dense.loss_curve_
    for fmt in ("csr", "csc"):
        # sparse products sum in another order: equal to float64 rounding
        assert_same_outputs(
            outputs(on_dense, X_sparse.asformat(fmt)),
            outputs(on_dense, X_dense),
            exact=False,
        )
    # predictions do not depend on whether zeros are stored
    X_pruned = X_sparse.copy()
    X_pruned.eliminate_zeros()
    assert X_pruned.nnz < X_sparse.nnz
    assert_same_outputs(
        outputs(on_dense, X_pruned), outputs(on_dense, X_sparse), exact=False
    )


@pytest.mark.parametrize("kind", KINDS)
def test_mixed_numeric_dtypes_equal_the_float_array(data, kind):
    """float32 + int + bool + object columns that convert cleanly: same fit as floats."""
    X, y = data[kind]
    X = X.copy()
    X[:, 1] = np.round(X[:, 1] * 10)  # integral
    X[:, 2] = X[:, 2] > 0  # 0/1
    X[:, 0] = X[:, 0].astype(np.float32)  # representable in float32
    frame = pd.DataFrame(
        {
            "a": X[:, 0].astype(np.float32),
            "b": pd.array(X[:, 1].astype(int), dtype="Int64"),
            "c": X[:, 2].astype(bool),
        }
    )
    objects = pd.DataFrame({"a": X[:, 0].astype(object), "b": X[:, 1], "c": X[:, 2]})
    as_floats = make(kind).fit(X, y)
    for frame_input in (frame, objects):
        est = make(kind).fit(frame_input, y)
        assert list(est.feature_names_in_) == COLUMNS
        for a, b in zip(est.coefs_, as_floats.coefs_, strict=True):
            assert np.array_equal(a, b)
        for a, b in zip(outputs(est, frame_input), outputs(as_floats, X), strict=True):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_numeric_strings_in_X_convert_like_numbers(data, kind):
    X, y = data[kind]
    as_text = make(kind).fit(X.astype(str), y)
    as_numbers = make(kind).fit(X, y)
    for a, b in zip(as_text.coefs_, as_numbers.coefs_, strict=True):
        assert np.array_equal(a, b)


def test_numeric_strings_in_regression_target_convert(data):
    """A target of number strings is converted like X (it used to fail in NumPy)."""
    X, y = data["regressor"]
    as_text = make("regressor").fit(X, y.astype(str))
    as_numbers = make("regressor").fit(X, y)
    assert np.array_equal(as_text.predict(X), as_numbers.predict(X))
    # object arrays of numbers too (as scikit-learn's y_numeric does)
    as_objects = make("regressor").fit(X, y.astype(object))
    assert np.array_equal(as_objects.predict(X), as_numbers.predict(X))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batchnorm", [None, "input", "before_activation"])
def test_constant_features_fit_and_predict_finite(data, kind, batchnorm):
    """A constant column (zero variance, also under BatchNorm) is harmless."""
    X, y = data[kind]
    X = X.copy()
    X[:, 1] = 3.0
    est = make(kind, batchnorm=batchnorm).fit(X, y)
    for out in outputs(est, X):
        assert len(out) == len(X)
    assert np.isfinite(outputs(est, X)[-1]).all()
    # the folded NumPy pass agrees with Keras even where BatchNorm divides by
    # a zero variance (plus its epsilon)
    X_other = X.copy()
    X_other[:, 1] = -1.0  # a value the constant column never had
    keras = pytest.importorskip("keras")
    raw = keras.ops.convert_to_numpy(
        est.model_(X_other.astype(np.float32), training=False)
    )
    # the regressor's one output, the classifier's three softmax columns
    expected = outputs(est, X_other)[-1 if kind == "regressor" else 1]
    np.testing.assert_allclose(expected.reshape(raw.shape), raw, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_all_features_constant_gives_one_prediction(data, kind):
    X, y = data[kind]
    X_const = np.full_like(X, 2.5)
    est = make(kind).fit(X_const, y)
    proba = outputs(est, X_const)[-1]
    assert np.isfinite(proba).all()
    assert np.all(proba == proba[0])


@pytest.mark.parametrize("kind", KINDS)
def test_one_feature(data, kind):
    X, y = data[kind]
    est = make(kind).fit(X[:, :1], y)
    assert est.n_features_in_ == 1
    assert est.coefs_[0].shape == (1, 5)
    for out in outputs(est, X[:, :1]):
        assert len(out) == len(X)
    assert np.isfinite(outputs(est, X[:, :1])[-1]).all()


def test_one_row_regressor_fits(data):
    """One row is a (useless but valid) training set: batch size 1; not with
    batchnorm, whose statistics of one row are meaningless."""
    X, y = data["regressor"]
    reg = make("regressor").fit(X[:1], y[:1])
    assert reg.t_ == 2  # one row per epoch, two epochs
    pred = reg.predict(X)
    assert pred.shape == (len(X),)
    assert np.isfinite(pred).all()
    with pytest.raises(ValueError, match=r"needs batches of at least 2 rows.*1 sample"):
        make("regressor", batchnorm="input").fit(X[:1], y[:1])


def test_one_row_classifier_raises_one_class(data):
    X, y = data["classifier"]
    clf = make("classifier")
    with pytest.raises(ValueError, match=r"y has 1 class .*at least 2 classes"):
        clf.fit(X[:1], y[:1])
    assert_unfitted(clf)


def test_one_row_per_class_classifier_fits(data):
    X, y = data["classifier"]
    rows = [np.flatnonzero(y == label)[0] for label in np.unique(y)]
    clf = make("classifier").fit(X[rows], y[rows])
    assert list(clf.classes_) == sorted(np.unique(y))
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(clf.predict(X)) <= set(clf.classes_)


@pytest.mark.parametrize("kind", KINDS)
def test_one_row_at_predict(data, fitted, kind):
    X, _ = data[kind]
    for method in predict_methods(kind):
        full = getattr(fitted[kind], method)(X)
        one = getattr(fitted[kind], method)(X[2:3])
        assert one.shape == (1, *full.shape[1:])
        assert_same_outputs([one], [full[2:3]], exact=False)


@pytest.mark.parametrize("kind", KINDS)
def test_1e30_at_predict_is_finite(data, fitted, kind):
    """Predicting is a float64 pass with no training: huge inputs give huge but
    finite outputs (probabilities saturate at 0 and 1)."""
    X = np.full((3, 3), 1e30) * np.array([[1.0], [-1.0], [0.5]])
    for method in predict_methods(kind):
        out = getattr(fitted[kind], method)(X)
        assert out.shape[0] == 3
        if method != "predict" or kind == "regressor":
            assert np.isfinite(out).all()
    if kind == "classifier":
        np.testing.assert_allclose(fitted[kind].predict_proba(X).sum(axis=1), 1.0)


# ------------------------------------------------ invalid constructor values
# Every parameter with a constraint, at least one invalid value each; the
# constraint check raises InvalidParameterError naming the parameter.
INVALID_VALUES = {
    "hidden_layer_sizes": [0, "8", 2.5],
    "activation": ["sigmoidal", None],
    "dropout_rate": [1.0, -0.1, "0.1"],
    "batchnorm": ["sideways", True],
    "batchnorm_momentum": [0.0, 1.0],
    "n_members": [0, 2.5, "4"],
    "solver": ["lbfgs"],
    "alpha": [-1e-4, "0"],
    "batch_size": [0, 2.5, "all"],
    "learning_rate_init": [0.0, -0.1],
    "max_iter": [0, 2.5],
    "shuffle": ["yes", 1],
    "random_state": ["seed", 1.5],
    "momentum": [-0.1, 1.5],
    "nesterovs_momentum": ["no"],
    "beta_1": [1.0, -0.1],
    "beta_2": [1.0],
    "epsilon": [0.0, -1e-8],
    "learning_rate": ["optimal"],
    "power_t": [-0.5],
    "early_stopping": ["yes"],
    "validation_fraction": [0.0, 1.0],
    "n_iter_no_change": [0, 1.5],
    "tol": [-1e-4],
    "weight_averaging": [-0.1, 1.0, "yes"],
    "warm_start": ["yes"],
    "callbacks": ["EarlyStopping", ()],
    "verbose": [-1, "loud"],
    "loss": ["hinge", None],
    "class_weight": ["auto", [1.0, 2.0]],
    "n_mc_samples": [1, 2.5],
}


def _invalid_cases():
    cases = []
    for kind in KINDS:
        for name in ESTIMATORS[kind]._parameter_constraints:
            for value in INVALID_VALUES[name]:
                cases.append(
                    pytest.param(kind, name, value, id=f"{kind}-{name}={value!r}")
                )
    return cases


def test_invalid_values_cover_every_constraint():
    for est in ESTIMATORS.values():
        assert set(est._parameter_constraints) <= set(INVALID_VALUES)
        assert set(est._parameter_constraints) == set(est().get_params())


@pytest.mark.parametrize("kind, name, value", _invalid_cases())
def test_invalid_constructor_value_raises_naming_it(data, fitted, kind, name, value):
    X, y = data[kind]
    est_class = ESTIMATORS[kind].__name__
    message = re.escape(f"The '{name}' parameter of {est_class} must be")

    fresh = make(kind, **{name: value})
    with pytest.raises(InvalidParameterError, match=message):
        fresh.fit(X, y)
    assert_unfitted(fresh)

    est = fitted[kind]
    before = snapshot(est, X)
    good = getattr(est, name)
    est.set_params(**{name: value})
    try:
        with pytest.raises(InvalidParameterError, match=message):
            est.fit(X, y)
        # scikit-learn validates on partial_fit's first call only; the
        # estimators validate every call
        with pytest.raises(InvalidParameterError, match=message):
            est.partial_fit(X, y)
    finally:
        est.set_params(**{name: good})
    assert_unchanged(est, before, X)


def test_invalid_value_in_clone_is_caught_at_fit(data):
    """clone and set_params do not validate (scikit-learn's convention): fit does."""
    X, y = data["regressor"]
    est = clone(make("regressor").set_params(alpha=-1.0))
    assert est.alpha == -1.0
    with pytest.raises(InvalidParameterError, match="'alpha' parameter"):
        est.fit(X, y)
