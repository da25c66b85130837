"""Training controls: stopping rules, validation, warm starts, weights, schedules.

The controls follow MLPRegressor's semantics. Every test trains tiny networks
for a few epochs with a fixed ``random_state``.
"""

import math
import pickle
import re
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning, NotFittedError
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import GridSearchCV, GroupKFold, train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

import sknormnet._train
from sknormnet import NormNetRegressor
from sknormnet.datasets import load_concrete

# Imported up front so that Keras' (and TensorFlow's) import-time logging
# happens at collection, outside the output captured by the verbose tests.
keras = pytest.importorskip("keras")

# Run exactly max_iter epochs: the training-loss stopping rule never fires.
NO_STOP = dict(tol=0.0, n_iter_no_change=1000)


def _net(**params):
    # MLPRegressor's defaults where the package's differ (no dropout, batches of
    # min(200, n), no early stopping, no weight averaging), so that each test
    # sets what it tests
    defaults = dict(
        hidden_layer_sizes=(8,),
        random_state=0,
        learning_rate_init=0.01,
        dropout_rate=0.0,
        batch_size="auto",
        early_stopping=False,
        weight_averaging=0.0,
    )
    return NormNetRegressor(**{**defaults, **params})


def _convergence_warnings(records):
    return [r for r in records if issubclass(r.category, ConvergenceWarning)]


def _fit_recording_warnings(est, *args, **kwargs):
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        est.fit(*args, **kwargs)
    return records


def _current_learning_rate(est):
    return float(keras.ops.convert_to_numpy(est.model_.optimizer.learning_rate))


@pytest.fixture(scope="module")
def split_easy(easy_regression):
    X, y = easy_regression
    return X[:300], y[:300], X[300:], y[300:]


# ------------------------------------------------------------------ stopping
@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("n_iter_no_change", [1, 3])
def test_stopping_plateau_stops_after_n_iter_no_change(
    easy_regression, n_iter_no_change, early_stopping
):
    X, y = easy_regression
    est = _net(
        max_iter=50,
        tol=10.0,
        n_iter_no_change=n_iter_no_change,
        early_stopping=early_stopping,
    )
    records = _fit_recording_warnings(est, X, y)
    # As MLPRegressor: the first epoch always improves on the initial best
    # (+inf loss, -inf score), then n_iter_no_change + 1 epochs in a row must
    # fail to improve by tol.
    reference = MLPRegressor(
        hidden_layer_sizes=(8,),
        tol=10.0,
        n_iter_no_change=n_iter_no_change,
        early_stopping=early_stopping,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference.fit(X, y)
    assert est.n_iter_ == reference.n_iter_ == n_iter_no_change + 2
    assert len(est.loss_curve_) == est.n_iter_
    assert _convergence_warnings(records) == []


def test_stopping_no_plateau_runs_max_iter_and_warns(easy_regression):
    X, y = easy_regression
    est = _net(max_iter=4, **NO_STOP)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(4\)") as rec:
        est.fit(X, y)
    # attributed to the caller of fit, not to sknormnet's internals
    assert [r.filename for r in rec if r.category is ConvergenceWarning] == [__file__]
    assert est.n_iter_ == 4
    assert len(est.loss_curve_) == 4
    assert est.best_loss_ == min(est.loss_curve_)


# ----------------------------------------------------------- early stopping
@pytest.fixture(scope="module")
def overfit_data():
    """Few noisy training rows and a large validation set: validation R² peaks."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 4))
    y = X[:, 0] + rng.normal(size=30)
    X_val = rng.normal(size=(200, 4))
    y_val = X_val[:, 0] + rng.normal(size=200)
    return X, y, X_val, y_val


def test_early_stopping_restores_best_epoch(overfit_data):
    X, y, X_val, y_val = overfit_data
    est = _net(
        hidden_layer_sizes=(64, 64),
        alpha=0.0,
        early_stopping=True,
        tol=0.0,
        n_iter_no_change=5,
        max_iter=200,
    )
    records = _fit_recording_warnings(est, X, y, X_val=X_val, y_val=y_val)
    assert _convergence_warnings(records) == []  # the validation rule fired
    assert est.n_iter_ < 200
    # the validation score got worse after its best epoch ...
    assert est.validation_scores_[-1] < est.best_validation_score_
    assert est.best_validation_score_ == max(est.validation_scores_)
    # ... and the best epoch's weights are the ones kept
    assert r2_score(y_val, est.predict(X_val)) == pytest.approx(
        est.best_validation_score_, abs=1e-5
    )
    assert est.best_loss_ is None
    n_epochs = len(est.loss_curve_)
    assert n_epochs == est.n_iter_
    assert len(est.history_["val_loss"]) == n_epochs
    assert len(est.history_["val_score"]) == n_epochs
    assert est.history_["val_score"] == est.validation_scores_
    assert all(np.isfinite(est.history_["val_loss"]))


def test_early_stopping_explicit_validation_without_early_stopping_only_scores(
    overfit_data,
):
    X, y, X_val, y_val = overfit_data
    est = _net(hidden_layer_sizes=(64, 64), alpha=0.0, max_iter=30, **NO_STOP)
    est.fit(X, y, X_val=X_val, y_val=y_val)
    # scored every epoch, but the last epoch's weights are kept
    assert len(est.validation_scores_) == est.n_iter_ == 30
    assert est.best_loss_ == min(est.loss_curve_)
    assert r2_score(y_val, est.predict(X_val)) == pytest.approx(
        est.validation_scores_[-1], abs=1e-5
    )
    assert est.validation_scores_[-1] < est.best_validation_score_


def test_early_stopping_validation_uses_sample_weight_val(overfit_data):
    X, y, X_val, y_val = overfit_data
    weights_val = np.linspace(0.1, 5.0, len(y_val))
    est = _net(max_iter=3, **NO_STOP)
    est.fit(X, y, X_val=X_val, y_val=y_val, sample_weight_val=weights_val)
    predicted = est.predict(X_val)
    assert est.validation_scores_[-1] == pytest.approx(
        r2_score(y_val, predicted, sample_weight=weights_val), abs=1e-6
    )
    assert est.validation_scores_[-1] != pytest.approx(
        r2_score(y_val, predicted), abs=1e-6
    )


def test_early_stopping_validation_arguments_must_come_together(overfit_data):
    X, y, X_val, y_val = overfit_data
    est = _net(max_iter=2)
    with pytest.raises(ValueError, match="X_val and y_val"):
        est.fit(X, y, X_val=X_val)
    with pytest.raises(ValueError, match="X_val and y_val"):
        est.fit(X, y, y_val=y_val)
    with pytest.raises(ValueError, match="sample_weight_val"):
        est.fit(X, y, sample_weight_val=np.ones(len(y)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.fit(X, y, X_val=X_val, y_val=y_val[:-1])
    assert not hasattr(est, "model_")


def test_early_stopping_internal_split_scores_every_epoch(easy_regression):
    X, y = easy_regression
    est = _net(
        early_stopping=True,
        validation_fraction=0.25,
        batch_size=10,
        max_iter=5,
        **NO_STOP,
    )
    est.fit(X, y)
    assert len(est.validation_scores_) == est.n_iter_ == len(est.loss_curve_) == 5
    assert len(est.history_["val_loss"]) == 5
    assert est.best_validation_score_ == max(est.validation_scores_)
    # trained on the 300 rows left after holding out 25% of 400
    assert est.t_ == 5 * 300


def test_early_stopping_without_it_has_no_validation_attributes(easy_regression):
    X, y = easy_regression
    est = _net(max_iter=3, **NO_STOP).fit(X, y)
    assert est.validation_scores_ is None
    assert est.best_validation_score_ is None
    assert set(est.history_) == {"loss"}
    assert est.t_ == 3 * 400  # every row trained on


def _indexed_rows(n_rows):
    """X whose first column is the row index, to trace rows through a split."""
    rng = np.random.default_rng(0)
    X = np.column_stack([np.arange(n_rows, dtype=float), rng.normal(size=n_rows)])
    y = rng.normal(size=(n_rows, 1)).astype(np.float32)
    return X, y


def test_validation_split_holds_out_whole_groups():
    X, y = _indexed_rows(200)
    groups = np.repeat(np.arange(40), 5)
    sample_weight = np.arange(200, dtype=np.float32)
    est = _net(early_stopping=True, validation_fraction=0.25)
    X_train, y_train, sw_train, (X_val, y_val, sw_val) = est._split_validation(
        X, y, sample_weight, groups, None, None, None, True, np.random.default_rng(0)
    )
    train_rows = X_train[:, 0].astype(int)
    val_rows = X_val[:, 0].astype(int)
    assert len(train_rows) + len(val_rows) == 200
    assert set(train_rows).isdisjoint(val_rows)
    train_groups, val_groups = set(groups[train_rows]), set(groups[val_rows])
    assert train_groups.isdisjoint(val_groups)
    assert len(val_groups) == math.ceil(0.25 * 40)
    # every row of a held-out group is held out
    assert len(val_rows) == 5 * len(val_groups)
    # targets and weights follow their rows
    np.testing.assert_array_equal(y_train, y[train_rows])
    np.testing.assert_array_equal(y_val, y[val_rows])
    np.testing.assert_array_equal(sw_train, train_rows)
    np.testing.assert_array_equal(sw_val, val_rows)


def test_validation_split_without_groups_matches_fraction():
    X, y = _indexed_rows(200)
    est = _net(early_stopping=True, validation_fraction=0.15)
    X_train, y_train, sw_train, (X_val, y_val, sw_val) = est._split_validation(
        X, y, None, None, None, None, None, True, np.random.default_rng(0)
    )
    assert len(X_val) == len(y_val) == math.ceil(0.15 * 200)
    assert len(X_train) == len(y_train) == 200 - len(X_val)
    assert sw_train is None and sw_val is None
    assert set(X_train[:, 0]).isdisjoint(X_val[:, 0])
    # different generators give different splits
    _, _, _, (X_val_other, _, _) = est._split_validation(
        X, y, None, None, None, None, None, True, np.random.default_rng(1)
    )
    assert set(X_val[:, 0]) != set(X_val_other[:, 0])


def test_validation_split_without_early_stopping_keeps_every_row():
    X, y = _indexed_rows(50)
    est = _net()
    X_train, _, _, validation = est._split_validation(
        X, y, None, None, None, None, None, False, np.random.default_rng(0)
    )
    assert validation is None
    assert X_train is X


def test_validation_split_too_few_rows_names_validation_fraction():
    X = np.array([[0.0, 1.0]])
    y = np.array([1.0])
    est = _net(early_stopping=True, max_iter=2)
    with pytest.raises(ValueError, match="validation_fraction"):
        est.fit(X, y)
    assert not hasattr(est, "model_")
    # a single group cannot be split either
    X2, y2 = _indexed_rows(20)
    with pytest.raises(ValueError, match="validation_fraction"):
        est.fit(X2, y2.ravel(), groups=np.zeros(20))


def test_validation_split_groups_of_wrong_length_raise():
    X, y = _indexed_rows(20)
    est = _net(early_stopping=True, max_iter=2)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.fit(X, y.ravel(), groups=np.arange(19))


# -------------------------------------------------- metadata routing: groups
class GroupRecordingRegressor(NormNetRegressor):
    """Records the ``groups`` every fit receives (in a class-level list)."""

    seen_groups: list = []

    def fit(
        self,
        X,
        y,
        sample_weight=None,
        groups=None,
        X_val=None,
        y_val=None,
        sample_weight_val=None,
    ):
        type(self).seen_groups.append(None if groups is None else np.asarray(groups))
        return super().fit(
            X,
            y,
            sample_weight=sample_weight,
            groups=groups,
            X_val=X_val,
            y_val=y_val,
            sample_weight_val=sample_weight_val,
        )


NUMERIC = ["danceability", "energy", "loudness", "tempo"]


def _preprocessor():
    return ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["playlist_genre"]),
        ]
    )


def test_groups_routed_through_gridsearch_and_pipeline(spotify_like):
    frame, y = spotify_like
    groups = frame["track_artist"].to_numpy()
    n = len(frame)
    GroupRecordingRegressor.seen_groups.clear()
    with sklearn.config_context(enable_metadata_routing=True):
        net = GroupRecordingRegressor(
            hidden_layer_sizes=(8,),
            early_stopping=True,
            validation_fraction=0.2,
            max_iter=3,
            random_state=0,
        ).set_fit_request(
            groups=True,
            sample_weight=False,
            X_val=False,
            y_val=False,
            sample_weight_val=False,
        )
        pipe = Pipeline([("pre", _preprocessor()), ("net", net)])
        search = GridSearchCV(
            pipe, {"net__learning_rate_init": [0.01]}, cv=GroupKFold(n_splits=2)
        )
        search.fit(frame, y, groups=frame["track_artist"])
    seen = GroupRecordingRegressor.seen_groups
    assert len(seen) == 3  # two folds, then the refit
    assert all(g is not None for g in seen)
    # the refit saw every row's group
    np.testing.assert_array_equal(seen[-1], groups)
    assert search.best_estimator_[-1].validation_scores_ is not None
    # inside a fold, the net saw exactly the training fold's groups
    folds = list(GroupKFold(n_splits=2).split(frame, y, groups))
    for fold_groups in seen[:-1]:
        assert len(fold_groups) < n
        matches = [
            (train, test)
            for train, test in folds
            if len(train) == len(fold_groups)
            and np.array_equal(groups[train], fold_groups)
        ]
        assert len(matches) == 1
        _, test = matches[0]
        assert set(fold_groups).isdisjoint(groups[test])


# ------------------------------------------------ X_val through a Pipeline
def _spotify_split(spotify_like):
    frame, y = spotify_like
    X = frame.drop(columns="track_artist")
    return X.iloc[:200], y[:200], X.iloc[200:], y[200:]


def test_x_val_transformed_by_pipeline_preprocessing(spotify_like):
    X, y, X_val, y_val = _spotify_split(spotify_like)
    with sklearn.config_context(enable_metadata_routing=True):
        net = _net(max_iter=5, learning_rate_init=0.03, **NO_STOP).set_fit_request(
            X_val=True, y_val=True
        )
        pipe = Pipeline(
            [("pre", _preprocessor()), ("net", net)], transform_input=["X_val"]
        )
        pipe.fit(X, y, X_val=X_val, y_val=y_val)
    fitted = pipe[-1]
    assert len(fitted.history_["val_score"]) == 5
    assert np.isfinite(fitted.history_["val_score"]).all()
    assert np.isfinite(fitted.history_["val_loss"]).all()
    # scored on the transformed validation rows: the last epoch's R² is the
    # pipeline's R² on the raw frame
    assert r2_score(y_val, pipe.predict(X_val)) == pytest.approx(
        fitted.validation_scores_[-1], abs=1e-5
    )


@pytest.mark.filterwarnings("ignore:X has feature names")
def test_x_val_without_transform_input_fails_on_strings(spotify_like):
    X, y, X_val, y_val = _spotify_split(spotify_like)
    with sklearn.config_context(enable_metadata_routing=True):
        net = _net(max_iter=2).set_fit_request(X_val=True, y_val=True)
        pipe = Pipeline([("pre", _preprocessor()), ("net", net)])
        with pytest.raises(ValueError, match="could not convert string"):
            pipe.fit(X, y, X_val=X_val, y_val=y_val)


def test_x_val_pipeline_early_stopping_keeps_best_epoch(spotify_like):
    X, y, X_val, y_val = _spotify_split(spotify_like)
    with sklearn.config_context(enable_metadata_routing=True):
        net = _net(
            max_iter=20,
            learning_rate_init=0.03,
            early_stopping=True,
            n_iter_no_change=3,
        ).set_fit_request(X_val=True, y_val=True)
        pipe = Pipeline(
            [("pre", _preprocessor()), ("net", net)], transform_input=["X_val"]
        )
        pipe.fit(X, y, X_val=X_val, y_val=y_val)
    fitted = pipe[-1]
    assert np.isfinite(fitted.validation_scores_).all()
    assert r2_score(y_val, pipe.predict(X_val)) == pytest.approx(
        fitted.best_validation_score_, abs=1e-5
    )


# --------------------------------------------------------------- warm_start
def test_warm_start_continues_the_loss_curve(split_easy):
    X, y, _, _ = split_easy
    est = _net(max_iter=5, batch_size=32, **NO_STOP).fit(X, y)
    first_curve = list(est.loss_curve_)
    model = est.model_
    first_weights = model.get_weights()
    t_first = est.t_
    est.set_params(warm_start=True)
    est.fit(X, y)
    assert len(est.loss_curve_) == 10
    assert est.loss_curve_[:5] == first_curve
    # model_ is a copy of each fit's network: the first fit's is left as it was
    assert est.model_ is not model
    for old, kept in zip(model.get_weights(), first_weights, strict=True):
        np.testing.assert_array_equal(old, kept)
    assert est.n_iter_ == 5
    assert est.t_ == 2 * t_first
    # training went on from the trained weights instead of starting over
    assert est.loss_curve_[5] < 0.5 * est.loss_curve_[0]
    assert est.loss_curve_[5] < first_curve[-1] * 1.5


def test_warm_start_false_restarts_training(split_easy):
    X, y, _, _ = split_easy
    est = _net(max_iter=5, **NO_STOP).fit(X, y)
    first_curve, model = list(est.loss_curve_), est.model_
    est.fit(X, y)
    assert est.model_ is not model
    assert len(est.loss_curve_) == 5
    assert est.loss_curve_ == pytest.approx(first_curve, rel=1e-5)


def test_warm_start_early_stopping_keeps_the_overall_best(overfit_data):
    X, y, X_val, y_val = overfit_data
    est = _net(
        hidden_layer_sizes=(64, 64),
        alpha=0.0,
        early_stopping=True,
        tol=0.0,
        n_iter_no_change=5,
        max_iter=200,
    ).fit(X, y, X_val=X_val, y_val=y_val)
    first_best = est.best_validation_score_
    n_first = len(est.validation_scores_)
    est.set_params(warm_start=True, max_iter=5)
    est.fit(X, y, X_val=X_val, y_val=y_val)
    assert len(est.validation_scores_) == n_first + est.n_iter_
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert est.best_validation_score_ >= first_best
    # the weights kept are those of the best epoch of either fit
    assert r2_score(y_val, est.predict(X_val)) == pytest.approx(
        est.best_validation_score_, abs=1e-5
    )


def test_warm_start_shape_change_raises_and_keeps_estimator(split_easy):
    X, y, X_test, _ = split_easy
    est = _net(max_iter=3, **NO_STOP).fit(X, y)
    before = est.predict(X_test)
    curve = list(est.loss_curve_)
    est.set_params(warm_start=True, hidden_layer_sizes=(16,))
    with pytest.raises(ValueError, match="warm_start"):
        est.fit(X, y)
    np.testing.assert_array_equal(est.predict(X_test), before)
    assert est.loss_curve_ == curve
    assert [c.shape for c in est.coefs_] == [(4, 8), (8, 1)]


# --------------------------------------------------------------- partial_fit
def test_partial_fit_one_epoch_per_call(split_easy):
    X, y, X_test, _ = split_easy
    est = _net(max_iter=50)
    assert not hasattr(est, "model_")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # max_iter does not apply
        est.partial_fit(X, y)
        assert hasattr(est, "model_")
        assert est.n_iter_ == 1
        assert len(est.loss_curve_) == 1
        t_one = est.t_
        previous = est.predict(X_test)
        for call in range(2, 6):
            est.partial_fit(X, y)
            assert est.n_iter_ == 1
            assert len(est.loss_curve_) == call
            assert est.t_ == call * t_one
            current = est.predict(X_test)
            assert not np.allclose(current, previous)
            previous = current


def test_partial_fit_follows_invscaling_schedule(easy_regression):
    X, y = easy_regression
    est = _net(solver="sgd", learning_rate="invscaling", power_t=0.5)
    reference = MLPRegressor(
        hidden_layer_sizes=(8,),
        solver="sgd",
        learning_rate="invscaling",
        learning_rate_init=0.01,
        power_t=0.5,
        random_state=0,
    )
    for _ in range(3):
        est.partial_fit(X, y)
        reference.partial_fit(X, y)
    expected = 0.01 / (est.t_ + 1) ** 0.5
    assert reference._optimizer.learning_rate == pytest.approx(expected)
    assert _current_learning_rate(est) == pytest.approx(expected, rel=1e-5)


def test_partial_fit_reduces_the_loss(split_easy):
    X, y, X_test, y_test = split_easy
    est = _net(batch_size=32)
    for _ in range(8):
        est.partial_fit(X, y)
    assert est.loss_curve_[-1] < 0.3 * est.loss_curve_[0]
    assert est.score(X_test, y_test) > 0.8


# ------------------------------------------------------------ sample_weight
@pytest.fixture(scope="module")
def clean_and_garbage(easy_regression):
    X, y = easy_regression
    rng = np.random.default_rng(5)
    X_garbage = rng.normal(size=(200, 4))
    y_garbage = 100.0 * rng.normal(size=200)
    X_train = np.vstack([X[:200], X_garbage])
    y_train = np.concatenate([y[:200], y_garbage])
    return X_train, y_train, X[200:], y[200:]


@pytest.mark.parametrize(("garbage_weight", "good"), [(0.0, True), (1.0, False)])
def test_sample_weight_zero_removes_rows(clean_and_garbage, garbage_weight, good):
    X, y, X_test, y_test = clean_and_garbage
    weights = np.concatenate([np.ones(200), np.full(200, garbage_weight)])
    est = _net(hidden_layer_sizes=(16,), batch_size=50, max_iter=40, **NO_STOP)
    est.fit(X, y, sample_weight=weights)
    score = est.score(X_test, y_test)
    if good:
        assert score > 0.9
    else:
        assert score < 0.5


def test_sample_weight_ones_change_nothing(split_easy):
    X, y, X_test, _ = split_easy
    plain = _net(max_iter=3, **NO_STOP).fit(X, y)
    ones = _net(max_iter=3, **NO_STOP).fit(X, y, sample_weight=np.ones(len(y)))
    assert ones.loss_curve_ == pytest.approx(plain.loss_curve_, rel=1e-5)
    np.testing.assert_allclose(ones.predict(X_test), plain.predict(X_test), rtol=1e-5)


def test_sample_weight_wrong_length_raises(easy_regression):
    X, y = easy_regression
    with pytest.raises(ValueError, match="sample_weight"):
        _net(max_iter=2).fit(X, y, sample_weight=np.ones(len(y) - 1))


def test_sample_weight_score_uses_weights(split_easy):
    X, y, X_test, y_test = split_easy
    est = _net(max_iter=3, **NO_STOP).fit(X, y)
    weights = np.linspace(0.1, 3.0, len(y_test))
    weighted = est.score(X_test, y_test, sample_weight=weights)
    assert weighted != pytest.approx(est.score(X_test, y_test), abs=1e-6)
    assert weighted == pytest.approx(
        r2_score(y_test, est.predict(X_test), sample_weight=weights)
    )


# --------------------------------------------------------- divergence guard
DIVERGING_SEED = 0  # diverges in the first epoch (every seed 0-5 does)


def _concrete_recipe(**params):
    recipe = dict(
        hidden_layer_sizes=(512, 512, 512),
        solver="sgd",
        momentum=0.0,
        learning_rate_init=0.01,
        loss="absolute_error",
        batch_size=64,
        max_iter=100,
        random_state=DIVERGING_SEED,
    )
    return NormNetRegressor(**{**recipe, **params})


@pytest.fixture(scope="module")
def concrete():
    return load_concrete(return_X_y=True)


def test_divergence_unscaled_concrete_raises_and_stays_unfitted(concrete):
    X, y = concrete
    messages = []
    for _ in range(2):  # deterministic for this seed
        est = _concrete_recipe()
        params = est.get_params()
        with pytest.raises(ValueError, match="diverged at epoch") as info:
            est.fit(X, y)
        messages.append(str(info.value))
        assert "batchnorm" in str(info.value)
        assert "learning_rate_init" in str(info.value)
        with pytest.raises(NotFittedError):
            check_is_fitted(est)
        assert not hasattr(est, "model_")
        assert not hasattr(est, "loss_curve_")
        assert est.get_params() == params
    assert messages[0] == messages[1]
    assert "diverged at epoch 1:" in messages[0]


def test_divergence_batchnorm_before_dense_trains_concrete(concrete):
    X, y = concrete
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0
    )
    est = _concrete_recipe(batchnorm="before_dense").fit(X_train, y_train)
    assert np.isfinite(est.loss_curve_).all()
    mae = mean_absolute_error(y_test, est.predict(X_test))
    assert np.isfinite(mae)
    assert mae < 8.0


def test_divergence_warm_start_restores_previous_fit(split_easy):
    X, y, X_test, _ = split_easy
    est = _net(solver="sgd", max_iter=3, **NO_STOP).fit(X, y)
    before = est.predict(X_test)
    weights = [w.copy() for w in est.model_.get_weights()]
    curve = list(est.loss_curve_)
    est.set_params(warm_start=True, learning_rate_init=1e3)
    with pytest.raises(ValueError, match="diverged at epoch") as info:
        est.fit(X, y)
    # epochs are counted across the warm-started fits
    epoch = int(re.search(r"diverged at epoch (\d+)", str(info.value)).group(1))
    assert epoch > 3
    np.testing.assert_array_equal(est.predict(X_test), before)
    for saved, now in zip(weights, est.model_.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, now)
    assert est.loss_curve_ == curve
    assert est.learning_rate_init == 1e3  # the parameter itself is not rolled back


def test_divergence_gridsearch_scores_nan_and_picks_finite(concrete):
    X, y = concrete
    X, y = X[:300], y[:300]
    est = NormNetRegressor(
        hidden_layer_sizes=(8,), solver="sgd", max_iter=3, random_state=0
    )
    search = GridSearchCV(
        est,
        {"learning_rate_init": [1e3, 1e-6]},
        cv=2,
        error_score=np.nan,
    )
    with pytest.warns(FitFailedWarning, match="diverged"):
        search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.isnan(scores[0])
    assert np.isfinite(scores[1])
    assert search.best_params_ == {"learning_rate_init": 1e-6}
    assert np.isfinite(search.predict(X[:5])).all()


# ----------------------------------------------------------------- verbose
def test_verbose_prints_one_line_per_epoch(easy_regression, capsys):
    X, y = easy_regression
    _net(max_iter=3, verbose=1, **NO_STOP).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    epoch_lines = [line for line in lines if "Iteration" in line]
    assert len(epoch_lines) == 3
    assert all("loss = " in line for line in epoch_lines)
    assert not any("validation" in line for line in epoch_lines)
    for epoch, line in enumerate(epoch_lines, start=1):  # MLPRegressor's wording
        assert line.startswith(f"Iteration {epoch}, loss = ")


def test_verbose_shows_validation_with_early_stopping(easy_regression, capsys):
    X, y = easy_regression
    _net(max_iter=3, verbose=1, early_stopping=True, **NO_STOP).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    epoch_lines = [line for line in lines if "Iteration" in line]
    assert len(epoch_lines) == 3
    assert all(
        "validation loss = " in line and "validation score = " in line
        for line in epoch_lines
    )


def test_verbose_reports_stopping(easy_regression, capsys):
    X, y = easy_regression
    est = _net(max_iter=50, verbose=1, tol=10.0, n_iter_no_change=1).fit(X, y)
    out = capsys.readouterr().out
    assert (
        len([line for line in out.splitlines() if "Iteration" in line]) == est.n_iter_
    )
    assert "Stopping" in out


@pytest.mark.parametrize("early_stopping", [False, True])
def test_verbose_zero_prints_nothing(easy_regression, capfd, early_stopping):
    X, y = easy_regression
    capfd.readouterr()
    est = _net(max_iter=3, early_stopping=early_stopping, verbose=0, **NO_STOP)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    est.predict(X)
    est.score(X, y)
    captured = capfd.readouterr()
    assert captured.out == ""
    assert captured.err == ""


# --------------------------------------------------------------- callbacks
class CountingCallback(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.train_begin = 0
        self.epochs = 0
        self.train_end = 0
        self.epoch_indices = []

    def on_train_begin(self, logs=None):
        self.train_begin += 1

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1
        self.epoch_indices.append(epoch)

    def on_train_end(self, logs=None):
        self.train_end += 1


@pytest.mark.parametrize("chunk_bytes", [None, 1])
def test_callbacks_hooks_forwarded_once_per_fit(
    easy_regression, monkeypatch, chunk_bytes
):
    X, y = easy_regression
    if chunk_bytes is not None:  # every epoch its own model.fit call
        monkeypatch.setattr(sknormnet._train, "CHUNK_BYTES", chunk_bytes)
    counter = CountingCallback()
    est = _net(max_iter=4, callbacks=[counter], **NO_STOP).fit(X, y)
    # the parameter is never touched ...
    assert est.callbacks[0] is counter
    assert (counter.train_begin, counter.epochs, counter.train_end) == (0, 0, 0)
    # ... a copy is used, and sees a single training run
    used = est.callbacks_[0]
    assert used is not counter
    assert isinstance(used, CountingCallback)
    assert (used.train_begin, used.epochs, used.train_end) == (1, est.n_iter_, 1)
    assert est.n_iter_ == 4
    assert used.epoch_indices == [0, 1, 2, 3]
    # a second fit gets a fresh copy
    est.fit(X, y)
    assert est.callbacks_[0] is not used
    assert (est.callbacks_[0].train_begin, est.callbacks_[0].epochs) == (1, 4)


def test_callbacks_chunked_training_matches_single_chunk(easy_regression, monkeypatch):
    X, y = easy_regression
    one_chunk = _net(max_iter=3, **NO_STOP).fit(X, y)
    monkeypatch.setattr(sknormnet._train, "CHUNK_BYTES", 1)
    chunked = _net(max_iter=3, **NO_STOP).fit(X, y)
    assert chunked.loss_curve_ == pytest.approx(one_chunk.loss_curve_, rel=1e-5)
    np.testing.assert_allclose(chunked.predict(X), one_chunk.predict(X), rtol=1e-5)


def test_callbacks_cloned_per_estimator():
    est = _net(callbacks=[CountingCallback()])
    cloned = clone(est)
    assert cloned.callbacks[0] is not est.callbacks[0]
    assert isinstance(cloned.callbacks[0], CountingCallback)


# easy_regression: 2 batches of 200 rows, each row 4 features + 1 target + 1
# weight in float32 = 9600 bytes/epoch
THREE_EPOCHS_PER_CHUNK = 3 * 400 * (4 + 1 + 1) * 4


@pytest.mark.parametrize(
    ("chunk_bytes", "patience"),
    [
        (None, 1),
        (None, 2),
        (THREE_EPOCHS_PER_CHUNK, 1),  # the stop lands inside the first chunk
        # a stop on a chunk's last epoch must outlive that chunk's model.fit
        (
            THREE_EPOCHS_PER_CHUNK,  # the stop lands on the first chunk's end
            2,
        ),
        (
            1,  # every epoch its own chunk
            1,
        ),
    ],
)
def test_callbacks_keras_early_stopping_stops_training(
    easy_regression, monkeypatch, chunk_bytes, patience
):
    X, y = easy_regression
    if chunk_bytes is not None:
        monkeypatch.setattr(sknormnet._train, "CHUNK_BYTES", chunk_bytes)
    stopper = keras.callbacks.EarlyStopping(
        monitor="loss", patience=patience, min_delta=1e9
    )
    est = _net(max_iter=30, callbacks=[stopper], **NO_STOP).fit(X, y)
    # the first epoch improves on +inf, no later one can improve by 1e9
    assert est.n_iter_ == patience + 1
    assert len(est.loss_curve_) == patience + 1
    assert est.callbacks_[0].stopped_epoch == patience


def test_callbacks_estimator_pickles_after_fit(easy_regression):
    X, y = easy_regression
    est = _net(max_iter=3, callbacks=[CountingCallback()], **NO_STOP).fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))
    assert restored.callbacks_[0].epochs == 3
    assert restored.callbacks[0].epochs == 0


# ---------------------------------------------------- learning-rate schedules
def test_learning_rate_invscaling_follows_t(easy_regression):
    X, y = easy_regression
    est = _net(
        solver="sgd",
        learning_rate="invscaling",
        power_t=0.5,
        max_iter=4,
        **NO_STOP,
    ).fit(X, y)
    expected = 0.01 / (est.t_ + 1) ** 0.5
    assert _current_learning_rate(est) == pytest.approx(expected, rel=1e-5)
    assert _current_learning_rate(est) < 0.01 / 10


def test_learning_rate_invscaling_uses_power_t(easy_regression):
    X, y = easy_regression
    est = _net(
        solver="sgd", learning_rate="invscaling", power_t=0.25, max_iter=2, **NO_STOP
    ).fit(X, y)
    expected = 0.01 / (est.t_ + 1) ** 0.25
    assert _current_learning_rate(est) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    ("n_iter_no_change", "max_iter", "divisions"),
    [(1, 6, 2), (1, 7, 3), (3, 8, 1), (3, 9, 2)],
)
def test_learning_rate_adaptive_divides_by_five(
    easy_regression, n_iter_no_change, max_iter, divisions
):
    X, y = easy_regression
    # tol=1e9: after the first epoch (which improves on best_loss_=inf, as in
    # MLPRegressor) no epoch improves. As in MLPRegressor, the rate is divided
    # once more than n_iter_no_change epochs in a row failed to improve, and
    # the count starts again: with n_iter_no_change=1 at epochs 3, 5, 7; with
    # 3 at epochs 5 and 9.
    est = _net(
        solver="sgd",
        learning_rate="adaptive",
        tol=1e9,
        n_iter_no_change=n_iter_no_change,
        max_iter=max_iter,
    ).fit(X, y)
    assert est.n_iter_ == max_iter
    assert _current_learning_rate(est) == pytest.approx(0.01 / 5**divisions, rel=1e-5)


@pytest.mark.parametrize(
    ("learning_rate_init", "n_epochs", "last_rate"),
    [(1e-5, 7, 4e-7), (4e-6, 5, 8e-7)],
)
def test_learning_rate_adaptive_stops_below_minimum(
    easy_regression, learning_rate_init, n_epochs, last_rate
):
    X, y = easy_regression
    est = _net(
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=learning_rate_init,
        tol=1e9,
        n_iter_no_change=1,
        max_iter=50,
    )
    records = _fit_recording_warnings(est, X, y)
    # MLPRegressor's rule: when the count runs out, training stops if the rate
    # is at most 1e-6, else the rate is divided by 5. 1e-5 -> 2e-6 (epoch 3)
    # -> 4e-7 (epoch 5) -> stop (epoch 7); 4e-6 -> 8e-7 (epoch 3) -> stop (5).
    assert est.n_iter_ == n_epochs
    assert _current_learning_rate(est) == pytest.approx(last_rate, rel=1e-5)
    assert _convergence_warnings(records) == []


@pytest.mark.parametrize("learning_rate", ["constant", "invscaling", "adaptive"])
def test_learning_rate_schedule_ignored_by_adam(easy_regression, learning_rate):
    X, y = easy_regression
    est = _net(
        solver="adam",
        learning_rate=learning_rate,
        tol=1e9,
        n_iter_no_change=1000,
        max_iter=5,
    ).fit(X, y)
    assert est.n_iter_ == 5
    assert _current_learning_rate(est) == pytest.approx(0.01, rel=1e-6)


def test_learning_rate_constant_sgd_keeps_rate(easy_regression):
    X, y = easy_regression
    est = _net(solver="sgd", max_iter=4, **NO_STOP).fit(X, y)
    assert _current_learning_rate(est) == pytest.approx(0.01, rel=1e-6)


def test_learning_rate_warm_start_restarts_at_init(easy_regression):
    X, y = easy_regression
    est = _net(solver="sgd", learning_rate="invscaling", max_iter=2, **NO_STOP)
    est.fit(X, y)
    assert _current_learning_rate(est) < 0.01
    est.set_params(warm_start=True, learning_rate="constant")
    est.fit(X, y)
    assert _current_learning_rate(est) == pytest.approx(0.01, rel=1e-6)


# ------------------------------------------------------------------ solvers
@pytest.mark.parametrize(
    ("params", "optimizer_class"),
    [
        (dict(solver="adamw"), "AdamW"),
        (dict(solver="rmsprop"), "RMSprop"),
        (dict(solver="sgd", nesterovs_momentum=True), "SGD"),
        (dict(solver="sgd", nesterovs_momentum=False), "SGD"),
    ],
)
def test_solvers_learn_easy_regression(split_easy, params, optimizer_class):
    X, y, X_test, y_test = split_easy
    est = _net(hidden_layer_sizes=(16,), batch_size=32, max_iter=20, **params)
    est.fit(X, y)
    assert est.score(X_test, y_test) > 0.8
    optimizer = est.model_.optimizer
    assert type(optimizer).__name__ == optimizer_class
    if params["solver"] == "sgd":
        assert optimizer.nesterov is params["nesterovs_momentum"]
        assert optimizer.momentum == pytest.approx(0.9)


def test_solvers_nesterov_changes_training(split_easy):
    X, y, X_test, _ = split_easy
    common = dict(solver="sgd", max_iter=3, **NO_STOP)
    nesterov = _net(nesterovs_momentum=True, **common).fit(X, y)
    plain = _net(nesterovs_momentum=False, **common).fit(X, y)
    assert not np.allclose(nesterov.predict(X_test), plain.predict(X_test))
    no_momentum = _net(momentum=0.0, nesterovs_momentum=True, **common).fit(X, y)
    assert no_momentum.model_.optimizer.nesterov is False


# ----------------------------------------------------------- weight averaging
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_weight_averaging_is_the_epochs_moving_average(split_easy):
    """The fitted network is the exponential moving average of the weights
    after each epoch; training itself is unchanged (same loss curve)."""
    X, y, _, _ = split_easy
    params = dict(max_iter=3, batch_size=32, dropout_rate=0.2, **NO_STOP)
    epochs = [_net(**{**params, "max_iter": n}).fit(X, y) for n in (1, 2, 3)]
    averaged = _net(**params, weight_averaging=0.6).fit(X, y)
    assert averaged.loss_curve_ == epochs[-1].loss_curve_
    for i, kernel in enumerate(averaged.coefs_):
        w1, w2, w3 = (est.coefs_[i] for est in epochs)
        expected = 0.6 * (0.6 * w1 + 0.4 * w2) + 0.4 * w3
        np.testing.assert_allclose(kernel, expected, rtol=1e-5, atol=1e-6)
    for i, bias in enumerate(averaged.intercepts_):
        b1, b2, b3 = (est.intercepts_[i] for est in epochs)
        expected = 0.6 * (0.6 * b1 + 0.4 * b2) + 0.4 * b3
        np.testing.assert_allclose(bias, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_weight_averaging_is_what_validation_scores_and_keeps(split_easy):
    """With early stopping, each epoch's validation score is the average's,
    and the kept epoch's average is the fitted network."""
    X, y, X_val, y_val = split_easy
    est = _net(max_iter=6, weight_averaging=0.8, **NO_STOP).fit(
        X, y, X_val=X_val, y_val=y_val
    )
    assert est.validation_scores_[-1] == pytest.approx(
        est.score(X_val, y_val), abs=1e-5
    )
    plain = _net(max_iter=6, **NO_STOP).fit(X, y, X_val=X_val, y_val=y_val)
    assert est.loss_curve_ == plain.loss_curve_
    assert est.validation_scores_ != plain.validation_scores_
