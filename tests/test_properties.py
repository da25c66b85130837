"""Property-based tests: parameters x data shapes, drawn by hypothesis.

Bounded so that the module runs in about a minute: tiny networks, at most 3
epochs, at most 40 rows. The settings are derandomized (the same examples on
every run, so CI is deterministic) and keep no example database.
"""

import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from sknormnet import NormNetClassifier, NormNetRegressor
from sknormnet._names import (
    ACTIVATIONS,
    BATCHNORM_PLACEMENTS,
    LEARNING_RATE_SCHEDULES,
    REGRESSION_LOSSES,
    SOLVERS,
)

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

# every example fits a network: slow by hypothesis' standards, and derandomized
FIT_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CHEAP_SETTINGS = settings(
    max_examples=60, deadline=None, derandomize=True, database=None
)

# The errors a fit may raise on valid parameters and finite, float32-sized
# data: the documented ones (docs/reliability.rst), nothing else.
DOCUMENTED_FIT_ERRORS = re.compile(
    "|".join(
        [
            r"Training diverged at epoch \d+",
            r"Training produced non-finite weights",
            r"early_stopping=True could not hold out",
            r"early_stopping=True needs rows on both sides",
            r"y has 1 class",
            r"Some value\(s\) of y are negative .* Poisson",
            r"The validation set is too small",
            r"needs batches of at least 2 rows",
        ]
    )
)


# ---------------------------------------------------------------- strategies
@st.composite
def network_params(draw, kind):
    n_layers = draw(st.integers(1, 2))
    sizes = draw(st.lists(st.integers(1, 6), min_size=n_layers, max_size=n_layers))
    per_layer = draw(st.booleans())
    rate = st.sampled_from([0.0, 0.1, 0.5])
    dropout = (
        draw(st.lists(rate, min_size=n_layers, max_size=n_layers))
        if per_layer
        else draw(rate)
    )
    params = dict(
        hidden_layer_sizes=tuple(sizes),
        activation=draw(st.sampled_from(sorted(ACTIVATIONS))),
        dropout_rate=dropout,
        batchnorm=draw(
            st.sampled_from([None, *sorted(k for k in BATCHNORM_PLACEMENTS if k)])
        ),
        batchnorm_momentum=draw(st.sampled_from([0.5, 0.99])),
        solver=draw(st.sampled_from(SOLVERS)),
        alpha=draw(st.sampled_from([0.0, 1e-4, 0.1])),
        batch_size=draw(st.one_of(st.just("auto"), st.integers(1, 50))),
        learning_rate_init=draw(st.sampled_from([1e-3, 1e-2, 0.1])),
        max_iter=draw(st.integers(1, 3)),
        shuffle=draw(st.booleans()),
        random_state=draw(st.one_of(st.none(), st.integers(0, 2**31 - 1))),
        learning_rate=draw(st.sampled_from(LEARNING_RATE_SCHEDULES)),
        early_stopping=draw(st.booleans()),
        validation_fraction=draw(st.sampled_from([0.1, 0.3, 0.5])),
        n_iter_no_change=draw(st.integers(1, 3)),
        tol=draw(st.sampled_from([0.0, 1e-4])),
    )
    if kind == "regressor":
        params["loss"] = draw(st.sampled_from(REGRESSION_LOSSES))
    return params


def data_arrays(draw, n_rows, n_features):
    """Values of very different scales, constant columns and repeated rows included."""
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    X = draw(
        arrays(
            np.float64,
            (n_rows, n_features),
            elements=st.floats(-10, 10, allow_nan=False, allow_subnormal=False),
        )
    )
    return X * scale


@st.composite
def regression_problems(draw):
    n_rows = draw(st.integers(1, 40))
    n_features = draw(st.integers(1, 5))
    X = data_arrays(draw, n_rows, n_features)
    n_outputs = draw(st.sampled_from([None, 1, 3]))  # None: a 1-D y
    shape = (n_rows,) if n_outputs is None else (n_rows, n_outputs)
    y = draw(arrays(np.float64, shape, elements=st.floats(-100, 100, allow_nan=False)))
    return X, y


@st.composite
def classification_problems(draw):
    n_rows = draw(st.integers(2, 40))
    n_features = draw(st.integers(1, 5))
    X = data_arrays(draw, n_rows, n_features)
    target = draw(st.sampled_from(["binary", "multiclass", "multilabel"]))
    if target == "multilabel":
        n_labels = draw(st.integers(2, 3))
        y = draw(arrays(np.int64, (n_rows, n_labels), elements=st.integers(0, 1)))
        return X, y
    n_classes = 2 if target == "binary" else draw(st.integers(3, 4))
    labels = draw(
        st.sampled_from(
            [
                np.arange(n_classes),
                np.array(["cat", "dog", "eel", "fox"][:n_classes]),
                np.arange(n_classes) * 2.0 - 1,  # integral floats: labels
            ]
        )
    )
    if draw(st.booleans()):  # every class present (when there are enough rows)
        order = draw(st.permutations(range(n_rows)))
        index = np.arange(n_rows)[order] % n_classes
    else:  # anything, a single class included
        index = draw(arrays(np.int64, n_rows, elements=st.integers(0, n_classes - 1)))
    return X, labels[index]


# ------------------------------------------------------------------- helpers
def fit_or_documented_error(est, X, y):
    """Fit; on a documented error, check the estimator stayed unfitted and return None."""
    try:
        est.fit(X, y)
    except ValueError as exc:
        found = DOCUMENTED_FIT_ERRORS.search(str(exc))
        assert found, f"undocumented error: {exc}"
        hypothesis.event(f"fit raised: {found.group(0)}")
        with pytest.raises(NotFittedError):
            check_is_fitted(est)
        assert set(vars(est)) == set(est.get_params())
        return None
    hypothesis.event("fit succeeded")
    return est


def assert_params_equal(a: dict, b: dict):
    assert set(a) == set(b)
    for name in a:
        if isinstance(a[name], np.ndarray | list | tuple):
            assert np.array_equal(np.asarray(a[name]), np.asarray(b[name])), name
        else:
            assert a[name] == b[name] or a[name] is b[name], name


# ---------------------------------------------------------------- properties
# Early stopping on a handful of rows can hold out a single validation row,
# whose R² scikit-learn leaves undefined (NaN, with this warning): that epoch
# counts as no improvement.
@pytest.mark.filterwarnings("ignore:R\\^2 score is not well-defined")
@FIT_SETTINGS
@given(params=network_params("regressor"), problem=regression_problems())
def test_property_regressor_fit_predict(params, problem):
    X, y = problem
    reg = fit_or_documented_error(NormNetRegressor(**params), X, y)
    if reg is None:
        return
    pred = reg.predict(X)
    assert pred.shape == y.shape
    assert pred.dtype == np.float64
    assert np.isfinite(pred).all()
    # new rows: the same shape rule
    more = reg.predict(np.vstack([X, X[:1]]))
    assert more.shape == (len(X) + 1, *y.shape[1:])
    assert reg.n_features_in_ == X.shape[1]
    assert 1 <= reg.n_iter_ <= params["max_iter"]
    assert len(reg.loss_curve_) == reg.n_iter_
    assert np.isfinite(reg.loss_curve_).all()


@FIT_SETTINGS
@given(params=network_params("classifier"), problem=classification_problems())
def test_property_classifier_fit_predict(params, problem):
    X, y = problem
    clf = fit_or_documented_error(NormNetClassifier(**params), X, y)
    if clf is None:
        return
    pred = clf.predict(X)
    proba = clf.predict_proba(X)
    assert np.isfinite(proba).all()
    assert ((proba >= 0) & (proba <= 1)).all()
    if y.ndim == 2:  # multilabel: an indicator matrix, one column per label
        assert pred.shape == y.shape
        assert set(np.unique(pred)) <= {0, 1}
        assert proba.shape == y.shape
        # a label is predicted exactly where its probability passes 1/2
        assert np.array_equal(pred == 1, proba > 0.5)
    else:
        assert pred.shape == y.shape
        assert set(pred) <= set(clf.classes_)
        assert list(clf.classes_) == sorted(set(y))
        assert proba.shape == (len(X), len(clf.classes_))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
        # predict is the most probable class
        best = clf.classes_[np.argmax(proba, axis=1)]
        ties = np.sort(proba, axis=1)[:, -1] - np.sort(proba, axis=1)[:, -2] < 1e-12
        assert np.array_equal(pred[~ties], best[~ties])
    log_proba = clf.predict_log_proba(X)
    assert not np.isnan(log_proba).any()
    assert (log_proba <= 0).all()


@CHEAP_SETTINGS
@given(
    kind=st.sampled_from(["regressor", "classifier"]),
    data=st.data(),
)
def test_property_clone_and_get_params_round_trip(kind, data):
    """clone keeps every parameter; get_params/set_params mirror each other."""
    params = data.draw(network_params(kind))
    est_class = NormNetRegressor if kind == "regressor" else NormNetClassifier
    est = est_class(**params)
    got = est.get_params()
    assert_params_equal({k: got[k] for k in params}, params)

    cloned = clone(est)
    assert type(cloned) is est_class
    assert_params_equal(cloned.get_params(), got)
    # no fitted state, nothing beyond the parameters
    assert set(vars(cloned)) == set(got)

    # set_params on a default estimator reaches the same parameters
    rebuilt = est_class().set_params(**params)
    assert_params_equal(rebuilt.get_params(), got)
    # and get_params feeds the constructor back
    assert_params_equal(est_class(**got).get_params(), got)


@FIT_SETTINGS
@given(
    kind=st.sampled_from(["regressor", "classifier"]),
    data=st.data(),
)
def test_property_clone_of_fitted_is_unfitted_with_equal_params(kind, data):
    params = data.draw(network_params(kind))
    params.update(early_stopping=False, max_iter=1)
    if kind == "regressor":
        X, y = data.draw(regression_problems())
        est = NormNetRegressor(**params)
    else:
        X, y = data.draw(classification_problems())
        est = NormNetClassifier(**params)
    if fit_or_documented_error(est, X, y) is None:
        return
    before = est.get_params()
    cloned = clone(est)
    assert_params_equal(cloned.get_params(), before)
    with pytest.raises(NotFittedError):
        check_is_fitted(cloned)
    assert set(vars(cloned)) == set(before)
    # fitting never changes the parameters
    assert_params_equal({k: before[k] for k in params}, params)
