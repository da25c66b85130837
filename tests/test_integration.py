"""NormNetRegressor inside scikit-learn: pipelines, grouped CV, grid search, pickling."""

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone, is_regressor
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyRegressor
from sklearn.exceptions import NotFittedError
from sklearn.metrics import r2_score
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    GroupShuffleSplit,
    cross_validate,
    train_test_split,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from sknormnet import NormNetRegressor

REPO = Path(__file__).resolve().parents[1]
NUMERIC = ["danceability", "energy", "loudness", "tempo"]
NET_PARAMS = dict(
    hidden_layer_sizes=(16, 8),
    dropout_rate=0.1,
    max_iter=15,
    random_state=0,
    learning_rate_init=0.01,
)
SMALL_GRID = {"net__dropout_rate": [0.0, 0.2], "net__batchnorm": [None, "input"]}


def make_pipeline(**net_params):
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["playlist_genre"]),
        ],
        # The one-hot block is sparse, but with 4 dense columns next to it the
        # stack is 5/8 non-zero: keep it sparse anyway, so the network gets
        # (and the sparse path is exercised by) a CSR matrix.
        sparse_threshold=1.0,
    )
    return Pipeline(
        [("prep", prep), ("net", NormNetRegressor(**NET_PARAMS))]
    ).set_params(**{f"net__{k}": v for k, v in net_params.items()})


@pytest.fixture(scope="module")
def spotify(spotify_like):
    frame, y = spotify_like
    return frame, y, frame["track_artist"]


@pytest.fixture(scope="module")
def fitted_pipeline(spotify):
    frame, y, _ = spotify
    return make_pipeline().fit(frame, y)


def test_integration_is_regressor():
    assert is_regressor(NormNetRegressor())
    assert is_regressor(make_pipeline())


def test_integration_pipeline_feeds_sparse_input(spotify, fitted_pipeline):
    frame, _, _ = spotify
    transformed = fitted_pipeline.named_steps["prep"].transform(frame)
    assert sparse.issparse(transformed)
    net = fitted_pipeline.named_steps["net"]
    assert net.n_features_in_ == len(NUMERIC) + 4  # four genres one-hot
    pred = fitted_pipeline.predict(frame)
    assert pred.shape == (len(frame),)
    assert np.isfinite(pred).all()
    # the sparse path predicts what the dense path predicts
    np.testing.assert_allclose(net.predict(transformed.toarray()), pred, rtol=1e-12)


def test_integration_cross_validate_with_groups(spotify):
    frame, y, groups = spotify
    cv = GroupShuffleSplit(n_splits=2, test_size=0.25, random_state=0)
    result = cross_validate(
        make_pipeline(), frame, y, cv=cv, groups=groups, return_estimator=True
    )
    assert result["test_score"].shape == (2,)
    assert np.isfinite(result["test_score"]).all()
    for estimator in result["estimator"]:
        check_is_fitted(estimator.named_steps["net"])


def grid_search(spotify, grid, **kwargs):
    frame, y, groups = spotify
    search = GridSearchCV(make_pipeline(), grid, cv=GroupKFold(n_splits=2), **kwargs)
    return search.fit(frame, y, groups=groups)


@pytest.fixture(scope="module")
def serial_search(spotify):
    return grid_search(spotify, SMALL_GRID, n_jobs=1)


def check_search(search, grid):
    n_candidates = int(np.prod([len(v) for v in grid.values()]))
    assert set(search.best_params_) == set(grid)
    scores = search.cv_results_["mean_test_score"]
    assert scores.shape == (n_candidates,)
    assert np.isfinite(scores).all()
    # every combination was tried
    tried = {tuple(p[k] for k in sorted(grid)) for p in search.cv_results_["params"]}
    assert len(tried) == n_candidates


def test_integration_grid_search_with_groups(spotify, serial_search):
    frame, _, _ = spotify
    check_search(serial_search, SMALL_GRID)
    best = serial_search.best_estimator_.named_steps["net"]
    for name, value in serial_search.best_params_.items():
        assert best.get_params()[name.removeprefix("net__")] == value
    assert np.isfinite(serial_search.predict(frame)).all()


def test_integration_grid_search_parallel_equals_serial(spotify, serial_search):
    parallel = grid_search(spotify, SMALL_GRID, n_jobs=2, refit=False)
    np.testing.assert_array_equal(
        parallel.cv_results_["mean_test_score"],
        serial_search.cv_results_["mean_test_score"],
    )
    assert parallel.best_params_ == serial_search.best_params_


@pytest.mark.slow
def test_integration_grid_search_full_grid(spotify):
    grid = {
        **SMALL_GRID,
        "net__hidden_layer_sizes": [(8,), (16, 8)],
    }
    search = grid_search(spotify, grid, n_jobs=1)
    check_search(search, grid)


def test_integration_clone_of_fitted_pipeline_is_unfitted(fitted_pipeline):
    cloned = clone(fitted_pipeline)
    net = cloned.named_steps["net"]
    with pytest.raises(NotFittedError):
        check_is_fitted(net)
    with pytest.raises(NotFittedError):
        check_is_fitted(cloned.named_steps["prep"])
    assert net.get_params() == fitted_pipeline.named_steps["net"].get_params()
    assert [name for name, _ in cloned.steps] == ["prep", "net"]
    prep_params = cloned.named_steps["prep"].get_params(deep=False)
    original = fitted_pipeline.named_steps["prep"].get_params(deep=False)
    assert prep_params["sparse_threshold"] == original["sparse_threshold"]
    assert [t[2] for t in prep_params["transformers"]] == [
        t[2] for t in original["transformers"]
    ]


# --------------------------------------------------------------- learning
@pytest.fixture(scope="module")
def easy_split(easy_regression):
    X, y = easy_regression
    return train_test_split(X, y, test_size=0.25, random_state=0)


@pytest.fixture(scope="module")
def learned(easy_split):
    X_train, _, y_train, _ = easy_split
    return NormNetRegressor(
        hidden_layer_sizes=(32,), max_iter=60, learning_rate_init=0.01, random_state=0
    ).fit(X_train, y_train)


def test_integration_dummy_baseline_is_poor(easy_split):
    X_train, X_test, y_train, y_test = easy_split
    dummy = DummyRegressor().fit(X_train, y_train)
    assert r2_score(y_test, dummy.predict(X_test)) < 0.1


def test_integration_learns_easy_regression(easy_split, learned):
    _, X_test, _, y_test = easy_split
    assert r2_score(y_test, learned.predict(X_test)) > 0.9
    assert learned.loss_curve_[-1] < learned.loss_curve_[0]


def test_integration_learns_with_dropout_and_batchnorm(easy_split):
    X_train, X_test, y_train, y_test = easy_split
    # batchnorm_momentum=0.9: with 2 steps per epoch, Keras' 0.99 leaves the
    # moving statistics (used at predict) far from the data's after 60 epochs
    reg = NormNetRegressor(
        hidden_layer_sizes=(32,),
        dropout_rate=0.1,
        batchnorm="before_activation",
        batchnorm_momentum=0.9,
        max_iter=60,
        learning_rate_init=0.01,
        random_state=0,
    ).fit(X_train, y_train)
    assert r2_score(y_test, reg.predict(X_test)) > 0.9


# --------------------------------------------------------------- persistence
def test_integration_pickle_roundtrip_estimator(easy_split, learned):
    _, X_test, _, _ = easy_split
    loaded = pickle.loads(pickle.dumps(learned))
    assert np.array_equal(loaded.predict(X_test), learned.predict(X_test))
    assert loaded.get_params() == learned.get_params()
    # the Keras model came along too, weights and all
    for a, b in zip(
        loaded.model_.get_weights(), learned.model_.get_weights(), strict=True
    ):
        assert np.array_equal(a, b)


def test_integration_joblib_roundtrip_estimator(easy_split, learned, tmp_path):
    _, X_test, _, _ = easy_split
    path = tmp_path / "net.joblib"
    joblib.dump(learned, path)
    loaded = joblib.load(path)
    assert np.array_equal(loaded.predict(X_test), learned.predict(X_test))


def test_integration_pickle_and_joblib_roundtrip_pipeline(
    spotify, fitted_pipeline, tmp_path
):
    frame, _, _ = spotify
    expected = fitted_pipeline.predict(frame)
    loaded = pickle.loads(pickle.dumps(fitted_pipeline))
    assert np.array_equal(loaded.predict(frame), expected)
    path = tmp_path / "pipeline.joblib"
    joblib.dump(fitted_pipeline, path)
    assert np.array_equal(joblib.load(path).predict(frame), expected)


def test_integration_joblib_roundtrip_across_processes(
    spotify, fitted_pipeline, tmp_path
):
    frame, _, _ = spotify
    joblib.dump(fitted_pipeline, tmp_path / "pipeline.joblib")
    frame.to_pickle(tmp_path / "frame.pkl")
    code = textwrap.dedent(
        """
        import sys
        from pathlib import Path

        import joblib
        import numpy as np
        import pandas as pd

        where = Path(sys.argv[1])
        pipeline = joblib.load(where / "pipeline.joblib")
        frame = pd.read_pickle(where / "frame.pkl")
        np.save(where / "pred.npy", pipeline.predict(frame))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    child = np.load(tmp_path / "pred.npy")
    assert np.array_equal(child, fitted_pipeline.predict(frame))
