"""The fit path: nothing half-written survives a failure, nothing is shared.

Each test pins down one way a fit could lose or leak state: a warm start that
fails after training, an interrupt at any point of a fit, a user callback
reaching into other fits, partial_fit on short chunks, sparse input densified
an epoch at a time, a warning pointing at the wrong line. CI runs this module
under TensorFlow and JAX.
"""

import gc
import warnings
import weakref

import numpy as np
import pytest
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning

import sknormnet._engines
import sknormnet._train
from sknormnet import NormNetClassifier, NormNetRegressor

keras = pytest.importorskip("keras")

NET = dict(
    hidden_layer_sizes=(8,),
    dropout_rate=0.2,
    batchnorm="after_activation",
    batch_size=16,
    learning_rate_init=0.01,
    random_state=0,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=120)
    return X, y


def _model_output(est, X):
    out = est.model_(np.asarray(X, np.float32), training=False)
    return keras.ops.convert_to_numpy(out).ravel()


def _state(est):
    """Everything a fitted estimator holds that a failed call must not change."""
    return {
        "attributes": dict(vars(est)),
        "weights": [w.copy() for w in est._weights],
        "optimizer": [s.copy() for s in est._optimizer_state],
        "loss_curve": list(est.loss_curve_),
    }


def _assert_state(est, before, X, predictions):
    assert set(vars(est)) == set(before["attributes"])
    replaced = [k for k, v in before["attributes"].items() if vars(est)[k] is not v]
    assert replaced == []
    for now, then in zip(est._weights, before["weights"], strict=True):
        np.testing.assert_array_equal(now, then)
    for now, then in zip(est._optimizer_state, before["optimizer"], strict=True):
        np.testing.assert_array_equal(now, then)
    assert est.loss_curve_ == before["loss_curve"]
    np.testing.assert_array_equal(est.predict(X), predictions)


# ------------------------------------------------ 1. no half-written estimator
def test_warm_start_failing_on_its_warning_keeps_model_and_predict_in_step(data):
    """Under warnings-as-errors a warm fit reaching max_iter raises; what it
    published is whole: model_ agrees with predict, and warm fits go on (after
    a solver change too)."""
    X, y = data
    est = NormNetRegressor(max_iter=3, **NET).fit(X, y)
    old_model = est.model_
    old_output = _model_output(est, X)
    est.set_params(warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning):
            est.fit(X, y)
    np.testing.assert_allclose(_model_output(est, X), est.predict(X), atol=1e-4)
    # the model_ read before the fit is a copy of the earlier network, untouched
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(
            old_model(X.astype(np.float32), training=False)
        ).ravel(),
        old_output,
    )
    est.set_params(solver="sgd", momentum=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
        est.fit(X, y)
    assert len(est.loss_curve_) == 12
    np.testing.assert_allclose(_model_output(est, X), est.predict(X), atol=1e-4)


INTERRUPT_POINTS = [
    ("sknormnet._train", "EpochMonitor.end_epoch"),
    ("sknormnet._train", "EngineTrainer.run_epoch"),
    ("sknormnet._engines", "open_trainer"),
    ("sknormnet._base", "fold"),
    ("sknormnet._base", "_training_attributes"),
]


def _patch_to_interrupt(monkeypatch, module_name, attribute, after_calls):
    module = {
        "sknormnet._train": sknormnet._train,
        "sknormnet._engines": sknormnet._engines,
        "sknormnet._base": __import__("sknormnet._base").__dict__["_base"],
    }[module_name]
    owner, _, name = attribute.rpartition(".")
    target = getattr(module, owner) if owner else module
    original = getattr(target, name)
    calls = []

    def interrupting(*args, **kwargs):
        calls.append(1)
        if len(calls) > after_calls:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, interrupting)


@pytest.mark.parametrize(("module_name", "attribute"), INTERRUPT_POINTS)
@pytest.mark.parametrize("after_calls", [0, 1])
@pytest.mark.parametrize("warm", [False, True])
def test_interrupt_anywhere_leaves_the_estimator_as_it_was(
    data, monkeypatch, module_name, attribute, after_calls, warm
):
    X, y = data
    est = NormNetRegressor(max_iter=3, warm_start=warm, **NET)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    before, predictions = _state(est), est.predict(X)
    _patch_to_interrupt(monkeypatch, module_name, attribute, after_calls)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
    except KeyboardInterrupt:
        _assert_state(est, before, X, predictions)
    else:  # the patched function was not called often enough to interrupt
        assert len(est.loss_curve_) in (3, 6)
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)  # and the estimator goes on working
    np.testing.assert_allclose(_model_output(est, X), est.predict(X), atol=1e-4)


# ------------------------------------------------------- 2. nothing shared
class ChangeDropoutRate(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        for layer in self.model.layers:
            if isinstance(layer, keras.layers.Dropout):
                layer.rate = 0.9


class FreezeFirstLayer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.model.layers[0].trainable = False


@pytest.mark.parametrize("callback", [ChangeDropoutRate, FreezeFirstLayer])
def test_a_callback_changes_its_own_fit_only(data, callback):
    X, y = data
    params = dict(max_iter=3, n_iter_no_change=100, **NET)
    # Keras' JAX trainer cannot freeze a layer once fit has started (its
    # optimizer is built for every trainable variable): that fit raises.
    # Whether it trains or raises, no other fit may notice.
    fails = callback is FreezeFirstLayer and keras.backend.backend() == "jax"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        before = NormNetRegressor(**params).fit(X, y).predict(X)
        fits = []
        for _ in range(2):
            est = NormNetRegressor(callbacks=[callback()], **params)
            if fails:
                with pytest.raises(ValueError, match="optimizer"):
                    est.fit(X, y)
                assert not hasattr(est, "coefs_")
            else:
                fits.append(est.fit(X, y))
            after = NormNetRegressor(**params).fit(X, y).predict(X)
            np.testing.assert_array_equal(after, before)
    if fits:
        first, second = fits
        np.testing.assert_array_equal(second.predict(X), first.predict(X))
        assert not np.array_equal(first.predict(X), before)  # it did act
        # the callbacks saw a model of their own fit, not each other's
        assert first.callbacks_[0].model is not second.callbacks_[0].model


def test_runner_cache_is_bounded_and_closes_what_it_evicts(data, monkeypatch):
    X, y = data
    closed = []
    monkeypatch.setattr(sknormnet._engines, "MAX_RUNNERS", 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for units in (3, 4, 5, 6):
            est = NormNetRegressor(
                max_iter=1, **{**NET, "hidden_layer_sizes": (units,)}
            )
            est.fit(X, y)
            for runner in list(sknormnet._engines._runners.values()):
                if not hasattr(runner, "_closed_spy"):
                    runner._closed_spy = True
                    original = runner.close

                    def close(original=original):
                        closed.append(1)
                        original()

                    runner.close = close
    assert len(sknormnet._engines._runners) <= 2
    assert len(closed) >= 2


def test_a_fit_that_builds_a_runner_returns_free_heap_and_a_reuse_does_not(
    data, monkeypatch
):
    if sknormnet._engines.backend_engine() is None:
        pytest.skip("the backend engines' runner cache")
    X, y = data
    trims = []
    monkeypatch.setattr(sknormnet._engines, "_malloc_trim", trims.append)
    params = {**NET, "hidden_layer_sizes": (11, 3)}
    sknormnet._engines.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        NormNetRegressor(max_iter=1, **params).fit(X, y)
        assert trims == [0]  # built a runner
        NormNetRegressor(max_iter=1, **params).fit(X, y)
        assert trims == [0]  # reused it


def test_an_evicted_runner_is_freed_without_waiting_for_the_collector(
    data, monkeypatch
):
    if sknormnet._engines.backend_engine() is None:
        pytest.skip("the backend engines' runner cache")
    X, y = data
    monkeypatch.setattr(sknormnet._engines, "MAX_RUNNERS", 1)
    sknormnet._engines.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        NormNetRegressor(max_iter=1, **{**NET, "hidden_layer_sizes": (12,)}).fit(X, y)
        (runner,) = sknormnet._engines._runners.values()
        # what holds compiled code: the TensorFlow session, the JAX function
        held = weakref.ref(getattr(runner, "_session", None) or runner._run)
        del runner
        gc.disable()
        try:
            NormNetRegressor(max_iter=1, **{**NET, "hidden_layer_sizes": (13,)}).fit(
                X, y
            )
            assert held() is None
        finally:
            gc.enable()


# ------------------------------------------- 4. sparse input, chunk by chunk
def test_sparse_input_is_densified_one_bounded_chunk_at_a_time(data, monkeypatch):
    X, y = data
    noise = sparse.random(
        120, 397, density=0.05, format="csr", random_state=np.random.default_rng(1)
    )
    X_sparse = sparse.hstack([sparse.csr_matrix(X), noise], format="csr")
    # one 16-row batch of 400 float32 features, y, weight and no dropout bits
    step_bytes = 16 * 4 * (400 + 1 + 1)
    monkeypatch.setattr(sknormnet._train, "CHUNK_BYTES", 2 * step_bytes)
    widest = []
    original = sknormnet._train._batches

    def recording(values, rows, capacity, batch_size):
        out = original(values, rows, capacity, batch_size)
        if out.ndim == 3 and out.shape[2] == 400:
            widest.append(out.nbytes)
        return out

    monkeypatch.setattr(sknormnet._train, "_batches", recording)
    params = {**NET, "dropout_rate": 0.0, "max_iter": 2, "n_iter_no_change": 100}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        chunked = NormNetRegressor(**params).fit(X_sparse, y)
        monkeypatch.setattr(sknormnet._train, "_batches", original)
        dense = NormNetRegressor(**params).fit(X_sparse.toarray(), y)
    assert widest and max(widest) <= 4 * 2 * 16 * 400  # two batches of X at most
    assert len(widest) == 2 * 4  # 8 steps an epoch, 2 per chunk, 2 epochs
    np.testing.assert_allclose(chunked.predict(X_sparse), dense.predict(X_sparse))


@pytest.mark.parametrize("kind", ["dense", "float64", "sparse", "weights"])
def test_chunks_are_aligned_padded_copies_of_the_rows(kind):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(50, 7)).astype(np.float32)
    rows = rng.permutation(50)[:37]
    source = {
        "dense": values,
        "float64": values.astype(np.float64),
        "sparse": sparse.csr_matrix(np.where(values > 0.5, values, 0)),
        "weights": values[:37, 0],
    }[kind]
    chosen = None if kind == "weights" else rows
    out = sknormnet._train._batches(source, chosen, 5, 8)  # 40 rows for 37
    assert out.dtype == np.float32 and out.ctypes.data % sknormnet._train.ALIGNMENT == 0
    expected = source if chosen is None else source[rows]
    expected = expected.toarray() if sparse.issparse(expected) else expected
    flat = out.reshape(40, -1) if out.ndim == 3 else out.reshape(40)
    np.testing.assert_array_equal(flat[:37], expected)
    assert not flat[37:].any()  # the padded steps' rows are zeros


def test_jax_takes_an_aligned_chunk_without_copying_it():
    """The premise of the aligned chunks: JAX uses such a buffer in place."""
    if keras.backend.backend() != "jax":
        pytest.skip("JAX backend only")
    import jax

    out = sknormnet._train._batches(np.ones((300, 20), np.float32), None, 2, 256)
    assert jax.device_put(out).unsafe_buffer_pointer() == out.ctypes.data


# ------------------------------------- 5. partial_fit on chunks of any size
@pytest.mark.parametrize("estimator", [NormNetRegressor, NormNetClassifier])
def test_partial_fit_on_chunks_smaller_than_the_batch(data, estimator):
    X, y = data
    target = y if estimator is NormNetRegressor else (y > 0).astype(int)
    extra = {} if estimator is NormNetRegressor else {"classes": [0, 1]}
    est = estimator(**{**NET, "batch_size": "auto", "alpha": 0.01})
    est.partial_fit(X, target, **extra)  # batches of min(200, 120) rows
    for stop in (50, 7, 120):  # shorter chunks, then a full one again
        est.partial_fit(X[:stop], target[:stop])
    assert len(est.loss_curve_) == 4


@pytest.mark.parametrize("estimator", [NormNetRegressor, NormNetClassifier])
def test_partial_fit_after_fit_with_early_stopping(data, estimator):
    X, y = data
    target = y if estimator is NormNetRegressor else (y > 0).astype(int)
    est = estimator(early_stopping=True, max_iter=3, **NET)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, target)
    n_epochs = len(est.loss_curve_)
    est.partial_fit(X[:30], target[:30])
    assert len(est.loss_curve_) == n_epochs + 1


# -------------------------------------- 6. the warning points at the caller
@pytest.mark.parametrize("estimator", [NormNetRegressor, NormNetClassifier])
def test_convergence_warning_points_at_the_caller(data, estimator):
    X, y = data
    target = y if estimator is NormNetRegressor else (y > 0).astype(int)
    with pytest.warns(ConvergenceWarning) as records:
        estimator(max_iter=1, **NET).fit(X, target)
    assert [record.filename for record in records] == [__file__]


def test_float32_csr_input_is_trained_without_a_copy():
    from sknormnet._base import as_float32

    X = sparse.random(50, 20, density=0.2, format="csr", dtype=np.float32)
    assert as_float32(X) is X
    converted = as_float32(X.astype(np.float64))
    assert converted.dtype == np.float32 and converted.format == "csr"
    dense = np.array([[1.0, -3e19], [2.0, 0.5]])
    with pytest.raises(ValueError, match="largest magnitude 3e"):
        as_float32(dense)
