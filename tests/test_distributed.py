"""Grid searches on a Dask cluster through joblib's "dask" backend.

A LocalCluster of two single-threaded worker processes on loopback stands in
for a real cluster: estimators, data and fitted Keras models cross process
boundaries by pickling exactly as they would between machines.
"""

import os
import sys

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

import joblib  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold  # noqa: E402

from sknormnet import NormNetClassifier, NormNetRegressor  # noqa: E402

GRID = {"dropout_rate": [0.0, 0.2], "batchnorm": [None, "before_activation"]}
# float32 training is deterministic for a fixed random_state, within a process
# and across processes (same wheels, same CPU), so the scores must match the
# serial run's bit for bit: no tolerance.
SCORE_KEYS = ("mean_test_score", "split0_test_score", "split1_test_score")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="module")
def regression_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 4))
    y = 2.0 * X[:, 0] - X[:, 1] + 0.5 * X[:, 2] * X[:, 3] + 0.05 * rng.normal(size=160)
    return X, y


def regressor(**params):
    params = {
        "hidden_layer_sizes": (8,),
        "batch_size": 32,
        "max_iter": 4,
        "random_state": 0,
        **params,
    }
    return NormNetRegressor(**params)


def search(estimator, X, y, cv, **kwargs):
    return GridSearchCV(estimator, GRID, cv=cv, **kwargs).fit(X, y)


def assert_same_search(found, reference):
    assert found.best_params_ == reference.best_params_
    assert found.best_score_ == reference.best_score_
    for key in SCORE_KEYS:
        np.testing.assert_array_equal(
            found.cv_results_[key], reference.cv_results_[key], err_msg=key
        )
    assert found.cv_results_["params"] == reference.cv_results_["params"]


def on_cluster(client, fit):
    """Run ``fit()`` under joblib's dask backend; also return which workers ran tasks."""
    with distributed.get_task_stream(client) as stream:
        with joblib.parallel_config(backend="dask"):
            result = fit()
    return result, {task["worker"] for task in stream.data}


@pytest.fixture(scope="module")
def serial_search(regression_data):
    X, y = regression_data
    return search(regressor(), X, y, KFold(2), n_jobs=1)


def test_grid_search_on_dask_equals_serial(client, regression_data, serial_search):
    X, y = regression_data
    found, workers = on_cluster(client, lambda: search(regressor(), X, y, KFold(2)))
    # the 8 fits ran on both worker processes, not in this one
    assert workers == set(client.scheduler_info()["workers"])
    assert_same_search(found, serial_search)


def test_fitted_estimator_travels_back_from_a_worker(
    client, regression_data, serial_search
):
    X, y = regression_data
    best = clone(serial_search.best_estimator_)
    remote = client.submit(best.fit, X, y, pure=False).result()
    local = serial_search.best_estimator_  # refit here, in this process
    np.testing.assert_array_equal(remote.predict(X), local.predict(X))
    # the Keras model came back too, weights and all
    for a, b in zip(
        remote.model_.get_weights(), local.model_.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    # and it keeps training here, as the local one does
    remote.partial_fit(X, y)
    local_copy = joblib.load(_dump(local))
    local_copy.partial_fit(X, y)
    np.testing.assert_array_equal(remote.predict(X), local_copy.predict(X))


def _dump(obj):
    import io

    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    buffer.seek(0)
    return buffer


def test_classifier_grid_search_on_dask_equals_serial(client, regression_data):
    X, target = regression_data
    y = np.where(target > 0, "up", "down")
    estimator = NormNetClassifier(
        hidden_layer_sizes=(8,), batch_size=32, max_iter=3, random_state=0
    )
    cv = StratifiedKFold(2)
    reference = search(estimator, X, y, cv, n_jobs=1)
    found, _ = on_cluster(client, lambda: search(estimator, X, y, cv))
    assert_same_search(found, reference)
    np.testing.assert_array_equal(
        found.best_estimator_.predict_proba(X),
        reference.best_estimator_.predict_proba(X),
    )


def test_workers_limit_their_threads(client):
    # Only the package and the standard library reach the workers here: the
    # first fit in a fresh worker is what imports Keras.
    limits = {
        name: client.run(os.getenv, name)
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    }
    rng = np.random.default_rng(0)
    client.run(regressor(max_iter=1).fit, rng.normal(size=(20, 2)), rng.normal(size=20))
    import keras

    backends = client.run(keras.backend.backend)
    assert len(backends) == 2
    # every worker trains with the client's Keras backend
    assert set(backends.values()) == {keras.backend.backend()}
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        # the nanny's default pre-spawn environment: one thread per native pool
        assert set(limits[name].values()) == {"1"}, name
    if keras.backend.backend() == "tensorflow":
        # sknormnet passed the limit on to TensorFlow's pools before importing it
        for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
            assert set(client.run(os.getenv, name).values()) == {"1"}, name


def _exit_once_class():
    import keras

    class ExitOnce(keras.callbacks.Callback):
        """Kills the worker process it runs in, once per marker file.

        The first fit to reach the end of an epoch in a worker process claims
        ``marker`` (atomically, so only one process can) and exits at once,
        as a crash or an out-of-memory kill would. Every later fit, anywhere,
        trains normally. Never exits the process that created it.
        """

        def __init__(self, marker):
            super().__init__()
            self.marker = str(marker)
            self.owner_pid = os.getpid()

        def on_epoch_end(self, epoch, logs=None):
            if os.getpid() == self.owner_pid:
                return
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            os._exit(1)

    ExitOnce.__qualname__ = "ExitOnce"  # pickled by reference, as this module's
    return ExitOnce


def __getattr__(name):
    # ExitOnce subclasses a Keras class, so it is made on first use: a worker
    # that imports this module to unpickle it must not import Keras before
    # sknormnet does (the package sets the backend's thread limits first).
    if name == "ExitOnce":
        globals()[name] = _exit_once_class()
        return globals()[name]
    raise AttributeError(name)


# Last in the module: the worker that replaces the dead one imports Keras
# through this module (to unpickle ExitOnce) rather than through sknormnet.
def test_search_survives_a_worker_dying_mid_fit(client, regression_data, tmp_path):
    # The recipe in docs/distributed.rst: joblib's dask backend scatters
    # large arguments (X, y, each fold's indices) to one worker each, and a
    # scattered array has no recipe to recompute it, so every input is
    # broadcast to all workers up front and the Active Memory Manager is
    # stopped so that it keeps the copies.
    X, y = regression_data
    splits = list(KFold(2).split(X))
    inputs = [X, y, *(part for split in splits for part in split)]
    marker = tmp_path / "died"
    pids_before = set(client.run(os.getpid).values())
    estimator = regressor(callbacks=[sys.modules[__name__].ExitOnce(marker)])
    client.amm.stop()
    try:
        with joblib.parallel_config(backend="dask", scatter=inputs):
            found = search(estimator, X, y, splits)
    finally:
        client.amm.start()
    # a worker process did die in a fit ...
    dead_pid = int(marker.read_text())
    assert dead_pid in pids_before
    # ... the nanny replaced it ...
    client.wait_for_workers(2, timeout=60)
    pids_after = set(client.run(os.getpid).values())
    assert dead_pid not in pids_after
    assert len(pids_after) == 2
    # ... and the scheduler reran its task: nothing lost, same result as the
    # same search run serially here (with callbacks, fits train in Keras'
    # Model.fit; ExitOnce never exits the process that made it)
    assert_same_search(found, search(estimator, X, y, splits, n_jobs=1))
