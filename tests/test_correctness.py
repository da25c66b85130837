"""Right answers on every backend and input: the cases users hit, one test each.

CI runs this module under TensorFlow and JAX; the cross-backend test runs a
child process per backend.
"""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold

from sknormnet import NormNetClassifier, NormNetRegressor

keras = pytest.importorskip("keras")
pd = pytest.importorskip("pandas")

QUIET = dict(max_iter=3, n_iter_no_change=100, random_state=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=80)
    return X, y


@pytest.fixture(autouse=True)
def _no_convergence_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


# -------------------------------------------------------- trained on logits
@pytest.mark.parametrize(
    ("out_activation", "raw", "y", "expected"),
    [
        ("logistic", [[-60.0]], [[1.0]], 60.0),  # -log(sigmoid(-60))
        ("logistic", [[60.0]], [[1.0]], 0.0),
        ("softmax", [[-40.0, 40.0]], [[1.0, 0.0]], 80.0),  # -log softmax
        ("logistic", [[-30.0, 30.0]], [[1.0, 0.0]], 60.0),  # multilabel: a sum
    ],
)
def test_log_loss_from_logits_never_saturates(out_activation, raw, y, expected):
    """The cross-entropy is computed from the logits on every backend: a
    confidently wrong output costs its full logit, not a clipped constant."""
    from sknormnet._ops import mean_loss

    loss = mean_loss("log_loss", out_activation, np.array(raw), np.array(y), None)
    assert loss == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_classifier_learns_from_unscaled_inputs():
    X, y = make_classification(
        n_samples=400, n_features=6, n_informative=4, random_state=0
    )
    X = X * np.array([100, 300, 1000, 3000, 5000, 10000]) + 50
    clf = NormNetClassifier(hidden_layer_sizes=(32,), max_iter=60, random_state=0)
    clf.fit(X, y)
    assert clf.loss_curve_[0] > 100  # the first epochs' logits are huge ...
    assert clf.loss_ < 0.1 * clf.loss_curve_[0]  # ... and their gradients do not vanish
    assert clf.score(X, y) > 0.75  # the classes are balanced


CROSS_BACKEND = r"""
import json, sys, warnings
import numpy as np
from sknormnet import NormNetClassifier, NormNetRegressor
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
X = rng.normal(size=(90, 4)) * np.array([1.0, 10.0, 100.0, 0.1])
y = np.tanh(X[:, 0]) + 0.01 * X[:, 1]
net = dict(hidden_layer_sizes=(16, 8), dropout_rate=0.2, batch_size=16,
           max_iter=5, n_iter_no_change=100, random_state=0)
out = {}
for placement in (None, "input", "before_activation"):
    reg = NormNetRegressor(batchnorm=placement, **net).fit(X, y)
    out[f"reg-{placement}"] = reg.predict(X).tolist()
    out[f"curve-{placement}"] = reg.loss_curve_
clf = NormNetClassifier(batchnorm="after_activation", **net).fit(X, y > 0)
out["clf"] = clf.predict_proba(X)[:, 1].tolist()
print(json.dumps(out))
"""


def test_same_fit_on_every_backend():
    """Initial weights, batches and dropout masks come from the estimator's own
    generator: a fixed random_state trains the same network on TensorFlow and
    JAX, to float32 rounding."""
    pytest.importorskip("jax")
    results = {}
    for backend in ("tensorflow", "jax"):
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
        done = subprocess.run(
            [sys.executable, "-c", CROSS_BACKEND],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        results[backend] = json.loads(done.stdout.strip().splitlines()[-1])
    for key, values in results["tensorflow"].items():
        np.testing.assert_allclose(
            results["jax"][key], values, rtol=1e-3, atol=1e-4, err_msg=key
        )


# ------------------------------------------------------------- divergence
@pytest.mark.parametrize("solver", ["adam", "rmsprop", "sgd"])
def test_finite_blow_up_is_divergence(data, solver):
    """A loss that explodes without becoming NaN is caught by the documented
    rule (over 1e4 times the first batch's loss) and leaves the estimator as
    it was."""
    X, y = data
    est = NormNetRegressor(hidden_layer_sizes=(16,), **QUIET).fit(X, y)
    before = est.predict(X)
    est.set_params(solver=solver, learning_rate_init=1e3, max_iter=20)
    with pytest.raises(ValueError, match="Training diverged at epoch"):
        est.fit(X, y)
    np.testing.assert_array_equal(est.predict(X), before)


def test_unscaled_but_sane_training_is_not_divergence():
    """Large initial losses (unscaled inputs) that go down are not flagged."""
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1000, size=(200, 4))
    y = X @ np.array([0.01, 0.02, -0.01, 0.005])
    est = NormNetRegressor(max_iter=30, random_state=0).fit(X, y)
    assert est.loss_ < est.loss_curve_[0]


# --------------------------------------------------- batchnorm and one row
@pytest.mark.parametrize("placement", ["input", "before_dense", "after_activation"])
def test_batchnorm_refuses_one_row_batches(data, placement):
    X, y = data
    with pytest.raises(ValueError, match=r"at least 2 rows.*batch_size=1"):
        NormNetRegressor(batchnorm=placement, batch_size=1, **QUIET).fit(X, y)
    with pytest.raises(ValueError, match="1 sample"):
        NormNetRegressor(batchnorm=placement, **QUIET).fit(X[:1], y[:1])
    est = NormNetRegressor(batchnorm=placement, **QUIET).fit(X, y)
    before = est.predict(X)
    with pytest.raises(ValueError, match="at least 2 rows"):
        est.partial_fit(X[:1], y[:1])
    np.testing.assert_array_equal(est.predict(X), before)
    # without batchnorm, one-row batches are fine
    NormNetRegressor(batch_size=1, **QUIET).fit(X[:10], y[:10])


# --------------------------------------------------------------- datetimes
@pytest.mark.parametrize("estimator", [NormNetRegressor, NormNetClassifier])
def test_datetime_columns_are_named(data, estimator):
    X, y = data
    target = y if estimator is NormNetRegressor else y > 0
    dates = pd.date_range("2020-01-01", periods=len(X), freq="D")
    mixed = pd.DataFrame({"a": X[:, 0], "when": dates, "b": X[:, 1]})
    only = pd.DataFrame({"when": dates, "also": dates + pd.Timedelta(days=3)})
    with pytest.raises(ValueError, match=r"date/time column\(s\) \['when'\]"):
        estimator(**QUIET).fit(mixed, target)
    with pytest.raises(ValueError, match=r"\['when', 'also'\].*ColumnTransformer"):
        estimator(**QUIET).fit(only, target)
    fitted = estimator(**QUIET).fit(mixed[["a", "b"]], target)
    with pytest.raises(ValueError, match="X_val has date/time"):
        estimator(**QUIET).fit(
            mixed[["a", "b"]], target, X_val=mixed[["a", "when"]], y_val=target
        )
    with pytest.raises(ValueError, match="date/time"):
        fitted.predict(mixed.assign(b=dates)[["a", "b"]])


# ------------------------------------------------ scikit-learn's parameters
@pytest.mark.parametrize(
    "params",
    [
        dict(solver="sgd", momentum=0),
        dict(solver="sgd", momentum=1, nesterovs_momentum=False),
        dict(solver="sgd", learning_rate_init=1, momentum=0.0),
        dict(alpha=np.float32(0.01), learning_rate_init=np.float64(0.01)),
        dict(beta_1=np.float32(0.8), epsilon=1, batchnorm_momentum=np.float16(0.9)),
        dict(solver="adamw", alpha=1, power_t=1, tol=0),
    ],
)
def test_ints_and_numpy_scalars_for_float_parameters(data, params):
    X, y = data
    X = X / 10
    est = NormNetRegressor(**{**QUIET, **params}).fit(X, y / 10)
    assert np.isfinite(est.predict(X)).all()


def test_grid_search_over_momentum_with_an_int(data):
    X, y = data
    search = GridSearchCV(
        NormNetRegressor(solver="sgd", learning_rate_init=0.01, **QUIET),
        {"momentum": [0, 0.9]},
        cv=KFold(2),
        error_score="raise",
    ).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_n_iter_no_change_inf_runs_max_iter(data):
    X, y = data
    for estimator, target in ((NormNetRegressor, y), (NormNetClassifier, y > 0)):
        est = estimator(n_iter_no_change=np.inf, tol=1e9, max_iter=6, random_state=0)
        assert est.fit(X, target).n_iter_ == 6


# ------------------------------------------------------------------ Poisson
def test_poisson_loss_is_mlpregressors(data):
    """Half the Poisson deviance with a log link, as MLPRegressor's."""
    X, _ = data
    rng = np.random.default_rng(3)
    y = rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1]))
    est = NormNetRegressor(
        loss="poisson", alpha=0.0, learning_rate_init=0.01, max_iter=40, random_state=0
    ).fit(X, y, X_val=X, y_val=y)
    assert est.out_activation_ == "exp"
    prediction = est.predict(X)
    assert (prediction > 0).all()
    # the validation loss is scikit-learn's poisson_loss of the predictions
    with np.errstate(divide="ignore", invalid="ignore"):
        y_log = np.where(y > 0, y * np.log(np.where(y > 0, y / prediction, 1)), 0)
    expected = np.mean(y_log - y + prediction)
    assert est.history_["val_loss"][-1] == pytest.approx(expected, rel=1e-4)
    # and the model learned: it beats the constant mean prediction
    constant = np.full_like(prediction, y.mean())
    with np.errstate(divide="ignore", invalid="ignore"):
        y_log_c = np.where(y > 0, y * np.log(np.where(y > 0, y / constant, 1)), 0)
    assert expected < np.mean(y_log_c - y + constant)
    with pytest.raises(ValueError, match="negative"):
        NormNetRegressor(loss="poisson", **QUIET).fit(X, y - 1.0)


# ------------------------------------------------------------ validation set
@pytest.mark.parametrize("estimator", [NormNetRegressor, NormNetClassifier])
def test_validation_set_too_small(data, estimator):
    X, y = data
    target = y if estimator is NormNetRegressor else np.arange(len(y)) % 2
    # 10 % of 9 rows (or groups) holds out one: no score can be computed
    with pytest.raises(ValueError, match="validation set is too small"):
        estimator(early_stopping=True, **QUIET).fit(
            X[:9], target[:9], groups=np.arange(9)
        )
    if estimator is NormNetRegressor:
        with pytest.raises(ValueError, match="validation set is too small"):
            estimator(early_stopping=True, **QUIET).fit(X[:9], target[:9])


# ---------------------------------------------------------- clear messages
def test_missing_labels_say_nan(data):
    X, _ = data
    labels = np.array(["a", "b"] * 40, dtype=object)
    labels[5] = pd.NA
    with pytest.raises(ValueError, match="Input y contains NaN"):
        NormNetClassifier(**QUIET).fit(X, labels)
    series = pd.Series(["a", "b"] * 40, dtype="string")
    series[7] = pd.NA
    with pytest.raises(ValueError, match="Input y contains NaN"):
        NormNetClassifier(**QUIET).fit(X, series)
    clean = np.array(["a", "b"] * 40, dtype=object)
    with pytest.raises(ValueError, match="Input y_val contains NaN"):
        NormNetClassifier(**QUIET).fit(X, clean, X_val=X, y_val=labels)


def test_huge_targets_and_weights(data):
    X, y = data
    with pytest.raises(ValueError, match=r"Input y contains values too large.*Scale y"):
        NormNetRegressor(**QUIET).fit(X, y * 1e19)
    # weights count by their ratios: 1e30 everywhere is the same fit as ones
    ones = NormNetRegressor(**QUIET).fit(X, y, sample_weight=np.ones(len(y)))
    huge = NormNetRegressor(**QUIET).fit(X, y, sample_weight=np.full(len(y), 1e30))
    np.testing.assert_array_equal(huge.predict(X), ones.predict(X))


def test_callback_that_cannot_be_copied(data):
    import threading

    X, y = data

    class Holder(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.lock = threading.Lock()

    with pytest.raises(TypeError, match=r"callbacks\[0\] \(Holder\) cannot be deep-"):
        NormNetRegressor(callbacks=[Holder()], **QUIET).fit(X, y)


def test_float16_target_raises_no_warning(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NormNetRegressor(max_iter=1, random_state=0).partial_fit(
            X, y.astype(np.float16)
        )


def test_hidden_layer_sizes_shape_and_size(data):
    X, y = data
    with pytest.raises(ValueError, match="flat sequence of ints"):
        NormNetRegressor(hidden_layer_sizes=[[4, 4]], **QUIET).fit(X, y)
    with pytest.raises(ValueError, match="Use smaller hidden layers"):
        NormNetRegressor(hidden_layer_sizes=(2**40,), **QUIET).fit(X, y)
