"""ONNX export (``sknormnet.onnx``): onnxruntime against predict / predict_proba.

The exported graph computes in the precision of its input. With a float32
input (the usual case, ``to_onnx(model, X.astype(np.float32))``) the inputs,
the folded weights and every intermediate are float32, while ``predict`` is
float64 throughout: the two differ by float32 rounding, a relative 1.2e-7
per operation. The networks below are tiny (two hidden layers of a few
units, outputs of order 1 to 5). Measured over every float32 comparison in
this file: at most 8.4e-7 for the regression outputs and 7.9e-8 for the
probabilities. The tolerance, ``rtol=atol=1e-5``, is more than ten times
that, and still fails on any real mismatch (a missing layer, a wrong
activation or a misplaced column changes the outputs by 1e-2 or more). With
a float64 input the graph is float64: measured at most 4.4e-16 from
``predict``, checked to 1e-12.
"""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

pytest.importorskip("skl2onnx")
rt = pytest.importorskip("onnxruntime")

from skl2onnx import to_onnx  # noqa: E402

import sknormnet.onnx as sknormnet_onnx  # noqa: E402
from sknormnet import NormNetClassifier, NormNetRegressor  # noqa: E402
from sknormnet.onnx import register_onnx_converters  # noqa: E402

FLOAT32_TOL = dict(rtol=1e-5, atol=1e-5)
FLOAT64_TOL = dict(rtol=1e-12, atol=1e-12)
TINY = dict(
    hidden_layer_sizes=(6, 5),
    dropout_rate=0.2,
    batch_size=32,
    learning_rate_init=0.01,
    batchnorm_momentum=0.5,
    max_iter=3,
    random_state=0,
)
PLACEMENTS = [None, "input", "before_dense", "before_activation", "after_activation"]


@pytest.fixture(scope="module", autouse=True)
def _registered():
    register_onnx_converters()


@pytest.fixture(scope="module")
def data():
    # unscaled features, so that the batchnorm placements have work to do
    rng = np.random.default_rng(0)
    X = rng.normal(loc=2.0, scale=3.0, size=(120, 4))
    Y = np.column_stack(
        [np.sin(X[:, 0] / 3) + 0.1 * X[:, 1], X[:, 2] / 3 - 0.5 * X[:, 3] / 3]
    )
    return X, Y


def _run(estimator, X, **options):
    """Outputs of the ONNX graph of ``estimator`` on ``X``, through onnxruntime."""
    onx = to_onnx(estimator, X[:1], **options)
    session = rt.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {session.get_inputs()[0].name: X})


def _labels_match(onnx_labels, labels, proba, margin=1e-4):
    """Labels agree wherever the decision is not within ``margin`` of a tie."""
    if proba.ndim == 2 and labels.ndim == 2:  # multilabel: every entry
        clear = np.abs(proba - 0.5) > margin
        np.testing.assert_array_equal(onnx_labels[clear], labels[clear])
    else:
        top2 = np.sort(proba, axis=1)[:, -2:]
        clear = top2[:, 1] - top2[:, 0] > margin
        np.testing.assert_array_equal(onnx_labels[clear], labels[clear])
    assert clear.mean() > 0.9


# ------------------------------------------------------------------ regressor
@pytest.mark.parametrize("batchnorm", PLACEMENTS)
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_regressor_matches_predict(data, batchnorm, n_outputs):
    X, Y = data
    y = Y[:, 0] if n_outputs == 1 else Y
    reg = NormNetRegressor(batchnorm=batchnorm, **TINY).fit(X, y)
    expected = reg.predict(X).reshape(len(X), n_outputs)

    (out32,) = _run(reg, X.astype(np.float32))
    assert out32.dtype == np.float32
    assert out32.shape == (len(X), n_outputs)
    np.testing.assert_allclose(out32, expected, **FLOAT32_TOL)

    (out64,) = _run(reg, X)
    assert out64.dtype == np.float64
    np.testing.assert_allclose(out64, expected, **FLOAT64_TOL)


@pytest.mark.parametrize("batchnorm", [None, "before_activation"])
def test_members_export_as_the_fitted_mean(data, batchnorm):
    """With ``n_members`` the folded network (block-diagonal layers, the
    members' mean in the output layer) is what the graph computes."""
    X, Y = data
    params = {**TINY, "hidden_layer_sizes": (6, 4), "n_members": 2}
    reg = NormNetRegressor(batchnorm=batchnorm, **params).fit(X, Y)
    (out64,) = _run(reg, X)
    np.testing.assert_allclose(out64, reg.predict(X), **FLOAT64_TOL)
    clf = NormNetClassifier(batchnorm=batchnorm, **params).fit(X, Y[:, 0] > 0.2)
    _, proba = _run(clf, X, options={"zipmap": False})
    np.testing.assert_allclose(proba, clf.predict_proba(X), **FLOAT64_TOL)


def test_regressor_declares_its_output_shape(data):
    X, Y = data
    reg = NormNetRegressor(**TINY).fit(X, Y)
    onx = to_onnx(reg, X[:1].astype(np.float32))
    (output,) = onx.graph.output
    dims = output.type.tensor_type.shape.dim
    assert [dim.dim_value for dim in dims][1:] == [2]


def test_pipeline_with_scaler(data):
    X, Y = data
    model = make_pipeline(StandardScaler(), NormNetRegressor(**TINY)).fit(X, Y[:, 0])
    (out,) = _run(model, X.astype(np.float32))
    np.testing.assert_allclose(out.ravel(), model.predict(X), **FLOAT32_TOL)


# ----------------------------------------------------------------- classifier
@pytest.mark.parametrize(
    "kind", ["binary", "multiclass", "multilabel-2", "multilabel-3"]
)
def test_classifier_matches_predict_proba(data, kind):
    X, Y = data
    if kind == "binary":
        y = np.where(Y[:, 0] > np.median(Y[:, 0]), "high", "low")
    elif kind == "multiclass":
        y = np.digitize(Y[:, 0], np.quantile(Y[:, 0], [1 / 3, 2 / 3])) * 10
    else:
        n_labels = int(kind[-1])
        y = (X[:, :n_labels] > 2.0).astype(int)
    clf = NormNetClassifier(batchnorm="before_activation", **TINY).fit(X, y)
    expected = clf.predict_proba(X)

    labels, proba = _run(clf, X.astype(np.float32), options={"zipmap": False})
    assert proba.dtype == np.float32
    assert proba.shape == expected.shape
    np.testing.assert_allclose(proba, expected, **FLOAT32_TOL)
    assert labels.shape == clf.predict(X).shape
    _labels_match(labels, clf.predict(X), expected)

    if kind.startswith("multilabel"):
        # the multilabel graph thresholds the probabilities with ONNX-ML's
        # Binarizer, which onnxruntime implements for float32 only
        return
    labels64, proba64 = _run(clf, X, options={"zipmap": False})
    np.testing.assert_allclose(proba64, expected, **FLOAT64_TOL)
    np.testing.assert_array_equal(labels64, clf.predict(X))


def test_classifier_zipmap_default(data):
    """Without options, the probabilities come as one {class: p} dict per row."""
    X, Y = data
    y = np.where(Y[:, 0] > np.median(Y[:, 0]), "high", "low")
    clf = NormNetClassifier(**TINY).fit(X, y)
    _, proba = _run(clf, X.astype(np.float32))
    assert len(proba) == len(X)
    assert set(proba[0]) == {"high", "low"}
    np.testing.assert_allclose(
        [row["high"] for row in proba], clf.predict_proba(X)[:, 0], **FLOAT32_TOL
    )


# --------------------------------------------------------------------- errors
@pytest.mark.parametrize("activation", ["elu", "selu", "gelu", "swish"])
@pytest.mark.parametrize("Estimator", [NormNetRegressor, NormNetClassifier])
def test_unsupported_activation_is_a_clear_error(data, activation, Estimator):
    X, Y = data
    y = Y[:, 0] if Estimator is NormNetRegressor else Y[:, 0] > 0
    est = Estimator(activation=activation, **{**TINY, "max_iter": 1}).fit(X, y)
    with pytest.raises(ValueError) as error:
        to_onnx(est, X[:1].astype(np.float32))
    message = str(error.value)
    assert f"activation={activation!r}" in message
    for supported in ("'identity'", "'logistic'", "'relu'", "'tanh'"):
        assert supported in message


def test_old_opset_is_a_clear_error(data):
    X, Y = data
    reg = NormNetRegressor(**TINY).fit(X, Y)
    with pytest.raises(ValueError, match="target_opset >= 5"):
        to_onnx(reg, X[:1].astype(np.float32), target_opset=4)


def test_registration_is_idempotent(data):
    X, Y = data
    register_onnx_converters()
    register_onnx_converters()
    reg = NormNetRegressor(**TINY).fit(X, Y[:, 0])
    (out,) = _run(reg, X.astype(np.float32))
    np.testing.assert_allclose(out.ravel(), reg.predict(X), **FLOAT32_TOL)


def test_missing_skl2onnx_says_what_to_install(monkeypatch):
    monkeypatch.setattr(sknormnet_onnx, "_registered", False)
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # import fails
    with pytest.raises(ImportError, match=r'pip install "sknormnet\[onnx\]"'):
        register_onnx_converters()


def test_importing_sknormnet_onnx_does_not_import_skl2onnx():
    code = (
        "import sys, sknormnet.onnx\n"
        "assert 'skl2onnx' not in sys.modules, 'skl2onnx was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
