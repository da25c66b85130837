"""Persistence: pickle, joblib and Keras' own format, across processes and backends.

A child process fits, saves (pickle, joblib, ``model_.save``) and records what
the estimators predict, then continues training them (``partial_fit``, then a
warm-started ``fit``) and records that too. Another child process, under the
same or the other Keras backend, loads the files, predicts and continues
training the same way. ``docs/reliability.rst`` summarises the results.
"""

import copy
import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import sknormnet
from sknormnet import NormNetClassifier, NormNetRegressor

CHILD = r"""
import pickle
import random
import sys
from pathlib import Path

import numpy as np

from sknormnet import NormNetClassifier, NormNetRegressor

step, where = sys.argv[1], Path(sys.argv[2])
record = {}
if step == "load":
    # a fitted estimator is arrays and frozen specs: unpickling it needs no
    # Keras (whose import would draw from the global RNGs)
    np.random.seed(1)
    random.seed(2)
    numpy_before, python_before = np.random.get_state()[1].copy(), random.getstate()
    with open(where / "reg.pkl", "rb") as f:
        pickle.load(f)
    assert "keras" not in sys.modules
    record["rng_untouched_by_first_load"] = np.array(
        [
            np.array_equal(np.random.get_state()[1], numpy_before),
            random.getstate() == python_before,
        ]
    )

import joblib
import keras

from sknormnet._model import host_array

rng = np.random.default_rng(0)
X = rng.normal(size=(40, 3))
y = X[:, 0] - 0.5 * X[:, 1] ** 2
labels = np.array(["a", "b", "c"])[np.digitize(X[:, 0], [-0.4, 0.4])]
net = dict(
    hidden_layer_sizes=(6, 4), batchnorm="before_activation", max_iter=3,
    random_state=0,
)
TARGETS = {"reg": y, "clf": labels, "det": y}


def make(name):
    if name == "clf":
        return NormNetClassifier(**net, dropout_rate=0.3)
    # "det": no dropout, so that training draws no random numbers and two
    # backends can continue it to the same result
    return NormNetRegressor(**net, dropout_rate=0.0 if name == "det" else 0.3)


def outputs(est):
    if isinstance(est, NormNetClassifier):
        return est.predict_proba(X)
    return est.predict(X)


def continued(est, name, record, prefix):
    est.partial_fit(X, TARGETS[name])
    record[f"{prefix}partial_fit"] = outputs(est)
    est.set_params(warm_start=True).fit(X, TARGETS[name])
    record[f"{prefix}warm_start"] = outputs(est)
    record[f"{prefix}loss_curve"] = np.array(est.loss_curve_)


if step == "fit":
    for name in TARGETS:
        est = make(name).fit(X, TARGETS[name])
        with open(where / f"{name}.pkl", "wb") as f:
            pickle.dump(est, f)
        joblib.dump(est, where / f"{name}.joblib")
        est.model_.save(where / f"{name}.keras")
        record[f"{name}:predict"] = outputs(est)
        record[f"{name}:keras_output"] = keras.ops.convert_to_numpy(
            est.model_(X.astype("float32"), training=False)
        )
        record[f"{name}:optimizer"] = np.concatenate(
            [host_array(v).ravel().astype(float) for v in est.model_.optimizer.variables]
        )
        continued(est, name, record, f"{name}:")
else:
    for name in TARGETS:
        for how in ("pkl", "joblib"):
            if how == "pkl":
                with open(where / f"{name}.pkl", "rb") as f:
                    est = pickle.load(f)
            else:
                est = joblib.load(where / f"{name}.joblib")
            record[f"{name}:{how}:predict"] = outputs(est)
            record[f"{name}:{how}:optimizer"] = np.concatenate(
                [
                    host_array(v).ravel().astype(float)
                    for v in est.model_.optimizer.variables
                ]
            )
            continued(est, name, record, f"{name}:{how}:")
        model = keras.saving.load_model(where / f"{name}.keras")
        record[f"{name}:keras_output"] = keras.ops.convert_to_numpy(
            model(X.astype("float32"), training=False)
        )
np.savez(where / f"{step}-{keras.backend.backend()}.npz", **record)
print("done", keras.backend.backend())
"""

BACKENDS = ["tensorflow", "jax"]
NAMES = ["reg", "clf", "det"]


def run_child(step, backend, where):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, step, str(where)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(np.load(where / f"{step}-{backend}.npz"))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Per backend: the directory with the saved files, and what the fitting process saw."""
    found = {}

    def get(backend):
        if backend == "jax":
            pytest.importorskip("jax")
        if backend not in found:
            where = tmp_path_factory.mktemp(f"saved-{backend}")
            found[backend] = (where, run_child("fit", backend, where))
        return found[backend]

    return get


@pytest.fixture(scope="module")
def loaded(saved):
    """What a second process under ``target`` did with the files of ``source``."""
    found = {}

    def get(source, target):
        if target == "jax":
            pytest.importorskip("jax")
        if (source, target) not in found:
            where, _ = saved(source)
            found[source, target] = run_child("load", target, where)
            (where / f"load-{target}.npz").unlink()
        return found[source, target]

    return get


@pytest.mark.parametrize("source, target", [(b, b) for b in BACKENDS])
def test_persistence_same_backend_across_processes(saved, loaded, source, target):
    """Identical predictions, and training continues exactly as it would have."""
    _, fitted = saved(source)
    got = loaded(source, target)
    # NumPy's and Python's global RNGs
    assert got["rng_untouched_by_first_load"].tolist() == [True, True]
    for name in NAMES:
        for how in ("pkl", "joblib"):
            assert np.array_equal(
                got[f"{name}:{how}:predict"], fitted[f"{name}:predict"]
            )
            assert np.array_equal(
                got[f"{name}:{how}:optimizer"], fitted[f"{name}:optimizer"]
            )
            # bit for bit, dropout masks included: the seed counters of the
            # dropout layers travel with the pickle
            for step in ("partial_fit", "warm_start", "loss_curve"):
                assert np.array_equal(
                    got[f"{name}:{how}:{step}"], fitted[f"{name}:{step}"]
                ), (name, how, step)


@pytest.mark.parametrize(
    "source, target", [("tensorflow", "jax"), ("jax", "tensorflow")]
)
def test_persistence_across_backends(saved, loaded, source, target):
    """A pickle from one backend loads under the other: identical predictions,
    the optimizer state carried over, and training continues."""
    _, fitted = saved(source)
    got = loaded(source, target)
    # NumPy's and Python's global RNGs
    assert got["rng_untouched_by_first_load"].tolist() == [True, True]
    for name in NAMES:
        for how in ("pkl", "joblib"):
            assert np.array_equal(
                got[f"{name}:{how}:predict"], fitted[f"{name}:predict"]
            )
            assert np.array_equal(
                got[f"{name}:{how}:optimizer"], fitted[f"{name}:optimizer"]
            )
            curve, expected = (
                got[f"{name}:{how}:loss_curve"],
                fitted[f"{name}:loss_curve"],
            )
            assert len(curve) == len(expected)
            assert np.isfinite(curve).all()
            # the history of the source backend's epochs is kept
            assert np.array_equal(curve[:3], expected[:3])
        # Without dropout nothing random happens while training continues: the
        # other backend continues it as the source backend would have, up to
        # float32 rounding (Adam's moments and step count came along).
        for step in ("partial_fit", "warm_start"):
            np.testing.assert_allclose(
                got[f"det:pkl:{step}"], fitted[f"det:{step}"], rtol=1e-5, atol=1e-6
            )


@pytest.mark.parametrize(
    "source, target",
    [(b, b) for b in BACKENDS] + [("tensorflow", "jax"), ("jax", "tensorflow")],
)
def test_persistence_native_keras_format(saved, loaded, source, target):
    """``model_.save(path.keras)`` and ``keras.saving.load_model`` in another
    process give the model's outputs; predict's NumPy pass agrees with them."""
    _, fitted = saved(source)
    got = loaded(source, target)
    for name in NAMES:
        np.testing.assert_allclose(
            got[f"{name}:keras_output"],
            fitted[f"{name}:keras_output"],
            rtol=1e-5,
            atol=1e-6,
        )
        # model_ outputs the regressor's values or the classifier's probabilities
        np.testing.assert_allclose(
            got[f"{name}:keras_output"].reshape(fitted[f"{name}:predict"].shape),
            fitted[f"{name}:predict"],
            rtol=1e-4,
            atol=1e-5,
        )


# --------------------------------------------------------------- in-process
@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    return X, X[:, 0] - X[:, 2], np.where(X[:, 1] > 0, "yes", "no")


NET = dict(hidden_layer_sizes=(5,), dropout_rate=0.3, max_iter=2, random_state=0)


@pytest.mark.parametrize("copier", ["pickle", "deepcopy"])
@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_persistence_copy_continues_training_like_the_original(problem, kind, copier):
    """Keras' saving format drops the dropout layers' seed counters; the estimator
    keeps them, so a copy does not replay the masks of the first epochs."""
    X, y, labels = problem
    est_class, target = (
        (NormNetRegressor, y) if kind == "regressor" else (NormNetClassifier, labels)
    )
    original = est_class(**NET).fit(X, target)
    if copier == "pickle":
        copied = pickle.loads(pickle.dumps(original))
    else:
        copied = copy.deepcopy(original)
    for est in (original, copied):
        est.partial_fit(X, target)
    assert copied.loss_curve_ == original.loss_curve_
    for a, b in zip(copied.coefs_, original.coefs_, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_persistence_unfitted_round_trip(problem, kind):
    X, y, labels = problem
    est_class, target = (
        (NormNetRegressor, y) if kind == "regressor" else (NormNetClassifier, labels)
    )
    est = est_class(**NET)
    loaded = pickle.loads(pickle.dumps(est))
    assert loaded.get_params() == est.get_params()
    assert set(vars(loaded)) == set(est.get_params())  # nothing fitted, nothing added
    fitted_loaded = loaded.fit(X, target)
    fitted = est_class(**NET).fit(X, target)
    assert fitted_loaded.loss_curve_ == fitted.loss_curve_


def test_persistence_same_version_loads_silently(problem):
    X, y, _ = problem
    data = pickle.dumps(NormNetRegressor(**NET).fit(X, y))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pickle.loads(data)


def test_persistence_other_version_warns(problem, monkeypatch):
    X, y, _ = problem
    reg = NormNetRegressor(**NET).fit(X, y)
    monkeypatch.setattr(sknormnet, "__version__", "0.0.1")
    data = pickle.dumps(reg)
    monkeypatch.undo()
    with pytest.warns(UserWarning, match=r"saved by sknormnet 0\.0\.1 with sknormnet"):
        loaded = pickle.loads(data)
    # loading still works: the warning is the whole effect
    assert np.array_equal(loaded.predict(X), reg.predict(X))


def test_persistence_pickle_without_version_warns(problem):
    """A pickle from before the version was recorded."""
    X, y, _ = problem
    reg = NormNetRegressor(**NET).fit(X, y)
    state = reg.__getstate__()
    del state["_sknormnet_version"]
    blank = NormNetRegressor.__new__(NormNetRegressor)
    with pytest.warns(UserWarning, match=r"saved by sknormnet \(unknown version\)"):
        blank.__setstate__(state)
    assert np.array_equal(blank.predict(X), reg.predict(X))


# ------------------------------------------------------- skops and MLflow
@pytest.mark.parametrize("name", NAMES)
def test_skops_round_trip_trusts_only_the_estimator(name, tmp_path):
    """A fitted estimator is arrays and plain data: skops saves it, and loading
    needs no type but the estimator's own class to be trusted."""
    sio = pytest.importorskip("skops.io")
    est = _fitted(name)
    path = tmp_path / "est.skops"
    sio.dump(est, path)
    assert sio.get_untrusted_types(file=path) == [
        f"{type(est).__module__}.{type(est).__qualname__}"
    ]
    with pytest.raises(Exception, match=r"[Uu]ntrusted"):
        sio.load(path)
    loaded = sio.load(path, trusted=[type(est)])
    np.testing.assert_array_equal(_outputs(loaded), _outputs(est))
    # and it continues training exactly as the original does
    for model in (est, loaded):
        model.set_params(warm_start=True).fit(X_SMALL, TARGETS_SMALL[name])
    np.testing.assert_array_equal(_outputs(loaded), _outputs(est))


def test_mlflow_sklearn_default_format(tmp_path, monkeypatch):
    """MLflow 3's sklearn flavour saves with skops by default: log and load a
    fitted estimator, with the estimator's class as the trusted type."""
    mlflow = pytest.importorskip("mlflow")
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # no database needed
    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())
    est = _fitted("clf")
    with mlflow.start_run():
        info = mlflow_sklearn.log_model(
            est,
            name="model",
            skops_trusted_types=["sknormnet._classifier.NormNetClassifier"],
        )
    loaded = mlflow_sklearn.load_model(info.model_uri)
    np.testing.assert_array_equal(_outputs(loaded), _outputs(est))


rng_small = np.random.default_rng(5)
X_SMALL = rng_small.normal(size=(40, 3))
TARGETS_SMALL = {
    "reg": X_SMALL[:, 0] - 0.5 * X_SMALL[:, 1] ** 2,
    "det": X_SMALL[:, 0] - 0.5 * X_SMALL[:, 1] ** 2,
    "clf": np.array(["a", "b", "c"])[np.digitize(X_SMALL[:, 0], [-0.4, 0.4])],
}


def _fitted(name):
    params = dict(hidden_layer_sizes=(6, 4), batchnorm="before_activation")
    params.update(max_iter=3, random_state=0)  # the cross-process tests' network
    if name == "clf":
        est = NormNetClassifier(dropout_rate=0.3, **params)
    else:
        est = NormNetRegressor(dropout_rate=0.0 if name == "det" else 0.3, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X_SMALL, TARGETS_SMALL[name])


def _outputs(est):
    if isinstance(est, NormNetClassifier):
        return est.predict_proba(X_SMALL)
    return est.predict(X_SMALL)
