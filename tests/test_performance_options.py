"""The fast paths keep training's semantics: engines, the Keras path, thread limits.

Functional checks only (nothing here is timed): the results of the backend
engine against Keras' own ``Model.fit``, the batches a callback sees, runner
reuse, and the environment a worker's first fit leaves behind.
"""

import ast
import logging
import os
import subprocess
import sys
import weakref

import numpy as np
import pytest

from sknormnet import NormNetRegressor
from sknormnet._threads import backend_thread_settings, thread_limit

keras = pytest.importorskip("keras")

PARAMS = dict(
    hidden_layer_sizes=(8,),
    dropout_rate=0.2,
    batchnorm="after_activation",
    batch_size=16,
    max_iter=3,
    n_iter_no_change=100,
    random_state=0,
)


def _data(n_rows, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=n_rows)


class CountBatches(keras.callbacks.Callback):
    """Counts train batches; optionally stops training after a given one."""

    def __init__(self, stop_after=None):
        super().__init__()
        self.stop_after = stop_after
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if self.batches == self.stop_after:
            self.model.stop_training = True


class EpochEnds(keras.callbacks.Callback):
    """An epoch-only callback: records the model it was given at every epoch."""

    def __init__(self):
        super().__init__()
        self.models = []

    def on_epoch_end(self, epoch, logs=None):
        self.models.append(self.model)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_batch_hooks_see_every_batch():
    X, y = _data(100)  # 7 batches of 16 per epoch, the last one topped up
    counted = NormNetRegressor(callbacks=[CountBatches()], **PARAMS).fit(X, y)
    assert counted.callbacks_[0].batches == 3 * 7
    assert int(counted.model_.optimizer.iterations.numpy()) == 3 * 7


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "solver, options",
    [
        ("adam", {}),
        ("adamw", {}),
        ("sgd", {}),  # Nesterov's momentum, MLPRegressor's default
        ("sgd", {"nesterovs_momentum": False}),
        ("sgd", {"momentum": 0.0}),
        ("rmsprop", {}),
    ],
)
def test_keras_path_trains_what_the_engine_trains(solver, options):
    """A fit with callbacks (Keras' Model.fit) and one without (the backend's
    engine) start from the same weights, see the same batches and minimize the
    same objective with the same update rule: without dropout, whose masks
    come from different generators, they agree to float32 rounding."""
    X, y = _data(100)
    params = {
        **PARAMS,
        "dropout_rate": 0.0,
        "alpha": 0.01,
        "solver": solver,
        "learning_rate_init": 0.01,
        **options,
    }
    engine = NormNetRegressor(**params).fit(X, y)
    keras_fit = NormNetRegressor(callbacks=[CountBatches()], **params).fit(X, y)
    np.testing.assert_allclose(keras_fit.loss_curve_, engine.loss_curve_, rtol=3e-5)
    # float32 rounding in another order of operations, compounded over 21
    # steps: each array agrees to 1e-4 of its own largest value
    pairs = [
        *zip(keras_fit.coefs_, engine.coefs_, strict=True),
        *zip(keras_fit._optimizer_state, engine._optimizer_state, strict=True),
    ]
    for a, b in pairs:
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="the JAX engine")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_jax_fit_of_a_new_network_compiles_only_its_runner(caplog):
    """JAX keeps every executable an eager operation compiles, once per shape,
    in process-wide caches: a fit whose own shapes reached one would grow the
    process with every new architecture of a grid search. The runner's chunk
    function is the only thing a new network may compile (and the runner
    releases it)."""
    import jax

    X, y = _data(100)
    params = {**PARAMS, "early_stopping": True, "n_iter_no_change": 2}
    NormNetRegressor(**params).fit(X, y).predict(X)  # shape-free first compiles
    with jax.log_compiles(True), caplog.at_level(logging.DEBUG, logger="jax"):
        for solver in ("adam", "sgd"):
            NormNetRegressor(
                **{**params, "solver": solver, "hidden_layer_sizes": (13, 7)}
            ).fit(X, y).predict(X)
    compiled = [
        record.getMessage().split(" with ")[0]
        for record in caplog.records
        if record.getMessage().startswith("Compiling ")
    ]
    assert compiled, "jax.log_compiles reported no compilation at all"
    assert all("_steps" in what for what in compiled), compiled


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="the JAX engine")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_jax_fit_of_a_new_network_keeps_no_library_traces():
    """JAX keeps the trace of every jitted function per argument shape while
    the function lives; ``jax.numpy``'s functions live for ever, so a step that
    called them as jitted functions would leave dozens of traces per new
    architecture behind. The runner traces its steps with inner jits off."""
    partial_eval = pytest.importorskip("jax._src.interpreters.partial_eval")
    traces = getattr(partial_eval.trace_to_jaxpr, "cache_keys", None)
    if traces is None:
        pytest.skip("this JAX's trace cache cannot be listed")

    def library_traces():
        found = []
        for key in traces():
            target = key[0]() if isinstance(key[0], weakref.ref) else key[0]
            if getattr(target, "__module__", "").startswith("jax._src.numpy"):
                found.append(key)
        return found

    X, y = _data(100)
    NormNetRegressor(**PARAMS).fit(X, y)
    before = len(library_traces())
    for sizes in [(11, 5), (12, 6)]:
        NormNetRegressor(**{**PARAMS, "hidden_layer_sizes": sizes}).fit(X, y)
    assert len(library_traces()) == before


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_stop_from_a_batch_hook_stops_at_that_batch():
    X, y = _data(100)
    est = NormNetRegressor(callbacks=[CountBatches(stop_after=9)], **PARAMS).fit(X, y)
    # stopped inside the second epoch, right after its second batch
    assert est.callbacks_[0].batches == 9
    assert est.n_iter_ == 2


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_callbacks_see_a_model_of_their_fit_alone():
    X, y = _data(100)
    first = NormNetRegressor(callbacks=[EpochEnds()], **PARAMS).fit(X, y)
    second = NormNetRegressor(callbacks=[EpochEnds()], **PARAMS).fit(X, y)
    models = [first.callbacks_[0].models, second.callbacks_[0].models]
    assert all(model is models[0][0] for model in models[0])
    assert all(model is models[1][0] for model in models[1])
    assert models[0][0] is not models[1][0]
    # neither is the estimators' model_ (a copy of the fitted network)
    assert models[0][0] is not first.model_


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_new_epoch_lengths_reuse_the_runner():
    """Folds of other sizes (other steps per epoch) train in the same compiled
    runner; on TensorFlow it is traced once for all of them."""
    from sknormnet import _engines

    params = {**PARAMS, "hidden_layer_sizes": (5, 3)}  # a runner of its own
    runners = []
    for n_rows in (100, 61, 170):
        est = NormNetRegressor(**params).fit(*_data(n_rows))
        assert int(est.model_.optimizer.iterations.numpy()) == 3 * -(-n_rows // 16)
        key = next(k for k in _engines._runners if k[1] == est._network_spec)
        runners.append(_engines._runners[key])
    assert runners[0] is runners[1] is runners[2]
    if keras.backend.backend() == "tensorflow":
        assert runners[0].tracing_count() == 1


def test_thread_limit_reads_omp_num_threads():
    assert thread_limit({"OMP_NUM_THREADS": "2"}) == 2
    assert thread_limit({}) is None
    assert thread_limit({"OMP_NUM_THREADS": "0"}) is None
    assert thread_limit({"OMP_NUM_THREADS": "many"}) is None


def test_backend_thread_settings():
    nothing = frozenset()
    assert backend_thread_settings({}, nothing) == {}
    assert backend_thread_settings({"OMP_NUM_THREADS": "3"}, nothing) == {
        "TF_NUM_INTRAOP_THREADS": "3",
        "TF_NUM_INTEROP_THREADS": "3",
    }


def test_backend_thread_settings_leave_user_choices_and_running_backends():
    omp = {"OMP_NUM_THREADS": "1"}
    # the user's own TensorFlow setting: neither variable is touched
    assert backend_thread_settings({**omp, "TF_NUM_INTEROP_THREADS": "4"}, set()) == {}
    assert backend_thread_settings({**omp, "TF_NUM_INTRAOP_THREADS": "0"}, set()) == {}
    # too late once the backend is imported: its thread pools may exist
    assert backend_thread_settings(omp, {"keras"}) == {}
    assert backend_thread_settings(omp, {"tensorflow"}) == {}


CHILD = r"""
import os
import numpy as np
import sknormnet

X = np.random.default_rng(0).normal(size=(40, 3))
sknormnet.NormNetRegressor(hidden_layer_sizes=(4,), max_iter=1).fit(X, X[:, 0])
print({k: os.environ.get(k) for k in
       ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")})
"""


def _child_environment(**variables):
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"}
    }
    env.update(variables, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", CHILD],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


def test_first_fit_in_a_worker_passes_the_limit_on():
    """As in a joblib or Dask worker: OMP_NUM_THREADS set, backend not imported."""
    seen = _child_environment(OMP_NUM_THREADS="1", KERAS_BACKEND="tensorflow")
    assert seen["TF_NUM_INTRAOP_THREADS"] == "1"
    assert seen["TF_NUM_INTEROP_THREADS"] == "1"
    # without a limit nothing is set
    seen = _child_environment(KERAS_BACKEND="tensorflow")
    assert seen == dict.fromkeys(seen)


def test_tensorflow_session_threads_follow_the_network_and_the_limits():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the TensorFlow engine")
    """Small networks run on one intra-op thread, large ones on the thread
    limit (the user's TF variable, a worker's OMP_NUM_THREADS, else the CPUs);
    the inter-op pool has at most two threads."""
    from sknormnet import _engine_tensorflow

    small = NormNetRegressor(**PARAMS).fit(*_data(40))._network_spec
    large = (
        NormNetRegressor(**{**PARAMS, "hidden_layer_sizes": (400, 400)})
        .fit(*_data(40))
        ._network_spec
    )
    cpus = len(os.sched_getaffinity(0))

    def threads(network, environ):
        config = _engine_tensorflow.session_config(network, environ)
        assert config.use_per_session_threads
        return (
            config.intra_op_parallelism_threads,
            config.inter_op_parallelism_threads,
        )

    assert threads(small, {}) == (1, min(2, cpus))
    assert threads(large, {}) == (cpus, min(2, cpus))
    assert threads(large, {"OMP_NUM_THREADS": "1"}) == (1, 1)
    assert threads(large, {"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "3"}) == (
        3,
        2,
    )
    assert threads(small, {"TF_NUM_INTRAOP_THREADS": "3"}) == (1, 2)


def test_tensorflow_runner_close_releases_its_session():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the TensorFlow engine")
    from sknormnet import _engine_tensorflow, _engines, _spec

    est = NormNetRegressor(**{**PARAMS, "hidden_layer_sizes": (6, 2)}).fit(*_data(40))
    network, optimizer = est._network_spec, est._optimizer_spec
    runner = _engine_tensorflow.Runner(network, optimizer)
    weights = _spec.initial_weights(network, np.random.default_rng(0))
    state = _spec.initial_optimizer_state(optimizer, network)
    runner.load(weights, state)
    for loaded, value in zip(runner.weights(), weights, strict=True):
        np.testing.assert_array_equal(loaded, value)
    assert len(runner.optimizer_state()) == len(state)
    session = weakref.ref(runner._session)
    runner.close()
    # freed at once, not when Python next collects the graph's cycles
    assert session() is None
    with pytest.raises(AttributeError):
        runner.weights()
    _engines.clear()
    assert not _engines._runners


@pytest.fixture
def xla_after(monkeypatch):
    """Set the TensorFlow engine's threshold for XLA fits, on fresh runners."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the TensorFlow engine")
    from sknormnet import _engine_tensorflow, _engines

    def set_threshold(steps):
        _engines.clear()
        monkeypatch.setattr(_engine_tensorflow, "XLA_MIN_STEPS", steps)

    yield set_threshold
    _engines.clear()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["adam", "adamw", "sgd", "rmsprop"])
def test_tensorflow_xla_tier_trains_what_the_plain_graph_trains(xla_after, solver):
    """The steps compiled by XLA (7 steps an epoch, padded to 8) train what
    the plain graph trains, dropout masks and batchnorm included, to float32
    rounding."""
    from sknormnet import _engines

    X, y = _data(100)
    params = {**PARAMS, "solver": solver, "alpha": 0.01, "learning_rate_init": 0.01}
    xla_after(10**12)
    plain = NormNetRegressor(**params).fit(X, y)
    xla_after(0)
    xla = NormNetRegressor(**params).fit(X, y)
    (runner,) = _engines._runners.values()
    assert runner.pads
    assert sorted(runner._runs) == [(16, True)]
    np.testing.assert_allclose(xla.loss_curve_, plain.loss_curve_, rtol=1e-5)
    for a, b in zip(xla.coefs_, plain.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    for a, b in zip(xla._optimizer_state, plain._optimizer_state, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(xla.predict(X), plain.predict(X), rtol=1e-4, atol=1e-5)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_tensorflow_tier_follows_the_fit_not_the_process(xla_after):
    """A fit planned to run at least the threshold's steps runs XLA from its
    first step, a shorter one the plain graph, whatever the runner ran before:
    the same fit gives the same network, bit for bit, early in a process or
    after long fits of its network."""
    from sknormnet import _engines

    xla_after(21)
    X, y = _data(100)  # 7 steps an epoch
    short = {**PARAMS, "max_iter": 2}  # 14 steps planned: the plain graph
    first = NormNetRegressor(**short).fit(X, y)
    (runner,) = _engines._runners.values()
    assert not runner.pads and sorted(runner._runs) == [(16, False)]
    for _ in range(3):  # 21 steps planned (PARAMS' max_iter=3): XLA
        NormNetRegressor(**PARAMS).fit(X, y)
        assert runner.pads
    assert sorted(runner._runs) == [(16, False), (16, True)]
    again = NormNetRegressor(**short).fit(X, y)
    assert not runner.pads
    assert again.loss_curve_ == first.loss_curve_
    for a, b in zip(again.coefs_, first.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "case", ["huber_weighted", "poisson", "two_outputs", "classifier"]
)
def test_tensorflow_xla_tier_losses_weights_outputs(xla_after, case):
    """Every loss, sample weights, several outputs and the classifier's
    log-loss train the same under XLA as in the plain graph."""
    from sknormnet import NormNetClassifier

    X, y = _data(100)
    rng = np.random.default_rng(1)
    kind, params, fit_params = NormNetRegressor, dict(PARAMS), {}
    if case == "huber_weighted":
        params["loss"] = "huber"
        fit_params["sample_weight"] = rng.uniform(0.5, 2.0, len(y))
    elif case == "poisson":
        params["loss"] = "poisson"
        y = np.exp(y / 4)
    elif case == "two_outputs":
        params["loss"] = "absolute_error"
        y = np.column_stack([y, -2 * y])
    else:
        kind = NormNetClassifier
        y = np.digitize(y, np.quantile(y, [0.3, 0.6]))
    xla_after(10**12)
    plain = kind(**params).fit(X, y, **fit_params)
    xla_after(0)
    xla = kind(**params).fit(X, y, **fit_params)
    np.testing.assert_allclose(xla.loss_curve_, plain.loss_curve_, rtol=1e-5)
    for a, b in zip(xla.coefs_, plain.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
