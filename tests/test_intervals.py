"""Conformal prediction intervals from MAPIE around NormNetRegressor.

MAPIE's split and cross conformal regressors only need ``fit`` and
``predict``; these tests check that they run with NormNetRegressor (alone
and in a Pipeline) and that the intervals have the documented shapes and a
sane coverage on a small synthetic problem with known noise.
"""

import numpy as np
import pytest
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

pytest.importorskip("mapie")

from mapie.regression import (
    CrossConformalRegressor,
    SplitConformalRegressor,
)

from sknormnet import NormNetRegressor

NOISE = 0.3
SMALL = dict(
    hidden_layer_sizes=(8,),
    batch_size=32,
    learning_rate_init=0.01,
    max_iter=15,
    random_state=0,
)


@pytest.fixture(scope="module")
def problem():
    """y = x0 - x1 / 2 + normal noise of std NOISE; train, conformalize and test rows."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(700, 3))
    y = X[:, 0] - 0.5 * X[:, 1] + NOISE * rng.normal(size=700)
    X_train, X_rest, y_train, y_rest = train_test_split(
        X, y, train_size=300, random_state=0
    )
    X_cal, X_test, y_cal, y_test = train_test_split(
        X_rest, y_rest, train_size=150, random_state=0
    )
    return X_train, y_train, X_cal, y_cal, X_test, y_test


def _check_intervals(points, intervals, y_test, n_levels):
    n_test = len(y_test)
    assert points.shape == (n_test,)
    assert intervals.shape == (n_test, 2, n_levels)
    lower, upper = intervals[:, 0, :], intervals[:, 1, :]
    assert np.all(np.isfinite(intervals))
    assert np.all(lower < upper)
    return lower, upper


def _coverage(lower, upper, y):
    return float(np.mean((lower <= y) & (y <= upper)))


def test_split_conformal(problem):
    X_train, y_train, X_cal, y_cal, X_test, y_test = problem
    mapie = SplitConformalRegressor(
        NormNetRegressor(**SMALL), confidence_level=[0.8, 0.95], prefit=False
    )
    mapie.fit(X_train, y_train).conformalize(X_cal, y_cal)
    points, intervals = mapie.predict_interval(X_test)
    lower, upper = _check_intervals(points, intervals, y_test, n_levels=2)

    # the point prediction is the network trained on the training rows
    assert np.all((lower[:, 0] <= points) & (points <= upper[:, 0]))
    np.testing.assert_allclose(mapie.predict(X_test), points)
    # the 95 % interval contains the 80 % one
    assert np.all(lower[:, 1] <= lower[:, 0])
    assert np.all(upper[:, 0] <= upper[:, 1])
    coverage_80 = _coverage(lower[:, 0], upper[:, 0], y_test)
    coverage_95 = _coverage(lower[:, 1], upper[:, 1], y_test)
    assert 0.65 <= coverage_80 <= 0.95
    assert coverage_95 >= 0.85
    # absolute residuals: one width for every row, at least the noise's
    # central 95 % (2 * 1.96 * NOISE) and not wildly wider
    width_95 = upper[:, 1] - lower[:, 1]
    np.testing.assert_allclose(width_95, width_95[0])
    assert 2 * 1.96 * NOISE * 0.8 < width_95[0] < 2 * 1.96 * NOISE * 4


def test_split_conformal_prefit_pipeline(problem):
    """A fitted Pipeline (StandardScaler + NormNetRegressor), conformalized as is."""
    X_train, y_train, X_cal, y_cal, X_test, y_test = problem
    model = make_pipeline(StandardScaler(), NormNetRegressor(**SMALL))
    model.fit(X_train, y_train)
    mapie = SplitConformalRegressor(model, confidence_level=0.95, prefit=True)
    mapie.conformalize(X_cal, y_cal)
    points, intervals = mapie.predict_interval(X_test)
    lower, upper = _check_intervals(points, intervals, y_test, n_levels=1)
    np.testing.assert_allclose(points, model.predict(X_test))
    assert _coverage(lower[:, 0], upper[:, 0], y_test) >= 0.85


def test_cross_conformal(problem):
    X_train, y_train, X_cal, y_cal, X_test, y_test = problem
    X = np.vstack([X_train, X_cal])
    y = np.concatenate([y_train, y_cal])
    mapie = CrossConformalRegressor(
        NormNetRegressor(**SMALL), confidence_level=0.95, cv=3, random_state=0
    )
    mapie.fit_conformalize(X, y)
    # "plus" intervals, around the mean of the three fold networks
    points, intervals = mapie.predict_interval(X_test)
    lower, upper = _check_intervals(points, intervals, y_test, n_levels=1)
    assert _coverage(lower[:, 0], upper[:, 0], y_test) >= 0.85
    width = upper[:, 0] - lower[:, 0]
    assert 2 * 1.96 * NOISE * 0.8 < np.median(width) < 2 * 1.96 * NOISE * 4
    # without aggregation, the points of the network trained on every row
    # (positional: MAPIE 1.6 renamed the keyword)
    points_full = mapie.predict(X_test, None)
    assert points_full.shape == (len(y_test),)
    assert np.mean(np.abs(points_full - y_test)) < 2 * NOISE
