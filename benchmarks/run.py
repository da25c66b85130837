"""Speed, latency and memory of NormNetRegressor against its peers, side by side.

``python benchmarks/run.py`` runs everything and prints one table of ratios,
each marked against its goal, plus the machine's description; ``--json``
writes the figures to a file (``benchmarks/plot.py`` draws them). ``--quick``
(CI) uses small sizes, the default Keras backend only and a small grid
search with n_jobs=1.

Each Keras backend is timed in a process of its own (``KERAS_BACKEND`` set
for it), always against raw Keras on that same backend and scikit-learn's
MLPRegressor in that same process. The grid searches run in processes of
their own too (scikeras changes Keras when it is imported); memory is
measured in fresh processes as well.

``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` slow a current NumPy (and so
MLPRegressor) several-fold on some machines: the children run with both
unset unless ``--keep-openblas-env`` is given, and the report prints which
setting ran.

The network (as in the performance notes): input -> Dense(128, relu) ->
Dropout(0.3) -> BN -> Dense(64, relu) -> Dropout(0.3) -> BN -> Dense(1), Adam,
batch 256. MLPRegressor (128, 64) has no dropout or batchnorm and serves as the
speed reference. Times are the best of a few repeats (on a shared machine,
other work only ever adds time).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

HERE = Path(__file__).resolve().parent
BATCH = 256
PARAMS = dict(
    hidden_layer_sizes=(128, 64),
    dropout_rate=0.3,
    batchnorm="after_activation",
    batch_size=BATCH,
    learning_rate_init=1e-3,
    early_stopping=False,  # the same rows and epochs as the peers
    alpha=0.0,
    tol=0.0,
    random_state=0,
)
# raw Keras' steps_per_execution settings tried for its best steady epoch
KERAS_STEPS_PER_EXECUTION = (1, 16, 64)


# ----------------------------------------------------------------- workloads
def make_data(n_rows: int, n_features: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_features)).astype(np.float32)
    w = rng.normal(size=n_features)
    y = np.tanh(X @ w / np.sqrt(n_features)) + 0.1 * rng.normal(size=n_rows)
    return X, y.astype(np.float32)


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def epoch_seconds(fit, epochs: int, repeats: int, clock=time.perf_counter) -> float:
    """Best time per epoch of ``fit(n)`` (n epochs), fixed costs cancelled.

    After one warm-up ``fit(1)``, the best of ``repeats`` differences between
    ``fit(1 + epochs)`` and ``fit(1)``, divided by ``epochs``; ``clock`` is
    wall time by default (``time.process_time`` for CPU time).
    """

    def timed(n):
        start = clock()
        fit(n)
        return clock() - start

    timed(1)  # compile, warm caches
    return min((timed(1 + epochs) - timed(1)) / epochs for _ in range(repeats))


def raw_keras_model(n_features: int, steps_per_execution: int = 1, **compile_args):
    import keras

    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((n_features,)),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.3),
            layers.BatchNormalization(),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.3),
            layers.BatchNormalization(),
            layers.Dense(1),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="mse",
        steps_per_execution=steps_per_execution,
        **compile_args,
    )
    return model


def sknormnet_fit(X, y, epochs):
    from sknormnet import NormNetRegressor

    return NormNetRegressor(max_iter=epochs, n_iter_no_change=epochs, **PARAMS).fit(
        X, y
    )


@contextmanager
def tensorflow_engine(**settings):
    """The TensorFlow engine's module constants (``XLA_MIN_STEPS``,
    ``SMALL_NETWORK_WEIGHTS``) set to ``settings`` inside the block, restored
    after it. Runners already cached keep what they built."""
    from sknormnet import _engine_tensorflow

    saved = {name: getattr(_engine_tensorflow, name) for name in settings}
    for name, value in settings.items():
        setattr(_engine_tensorflow, name, value)
    try:
        yield _engine_tensorflow
    finally:
        for name, value in saved.items():
            setattr(_engine_tensorflow, name, value)


def tier_fit(min_steps: int):
    """``sknormnet_fit`` with the TensorFlow engine's XLA threshold at
    ``min_steps`` planned steps (0: every fit runs the XLA tier, as fits
    planned to run ``XLA_MIN_STEPS`` or more do; a huge number: the plain
    graph, as shorter fits do)."""

    def fit(X, y, epochs):
        with tensorflow_engine(XLA_MIN_STEPS=min_steps):
            return sknormnet_fit(X, y, epochs)

    return fit


def sknormnet_fits(steady: bool):
    """``(name, fit)`` of sknormnet; on TensorFlow, both tiers of the engine.

    A fit's tier follows its own planned steps (``max_iter`` times the
    batches of an epoch). The fresh fit is timed as it runs by default
    (``sknormnet``) and with the XLA tier (``sknormnet_xla``). The steady
    epoch is timed in each tier, both fits of the difference in the same
    one: ``sknormnet`` the XLA tier, which a fit with the default
    ``max_iter=200`` runs at these sizes, ``sknormnet_plain`` the plain graph.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return [("sknormnet", sknormnet_fit)]
    if steady:
        return [("sknormnet", tier_fit(0)), ("sknormnet_plain", tier_fit(10**12))]
    return [("sknormnet", sknormnet_fit), ("sknormnet_xla", tier_fit(0))]


def sknormnet_first_fit(X, y, epochs):
    """A fit of an architecture no earlier fit in the process has used."""
    from sknormnet import _engines

    _engines.clear()
    return sknormnet_fit(X, y, epochs)


def mlp_fit(X, y, epochs):
    from sklearn.neural_network import MLPRegressor

    return MLPRegressor(
        hidden_layer_sizes=(128, 64),
        batch_size=BATCH,
        max_iter=epochs,
        n_iter_no_change=epochs,
        tol=0.0,
        alpha=0.0,
        random_state=0,
    ).fit(X, y)


def keras_fitter(steps_per_execution: int, **compile_args):
    def fit(X, y, epochs):
        model = raw_keras_model(X.shape[1], steps_per_execution, **compile_args)
        model.fit(X, y, batch_size=BATCH, epochs=epochs, verbose=0)
        return model

    return fit


def fresh_fit(rows: int, epochs: int, repeats: int, quick: bool) -> dict:
    """Wall time of a whole fit of a new model (warm process).

    On TensorFlow, raw Keras is also timed in eager mode and with XLA (the
    alternatives to tracing), once each.
    """
    import keras

    X, y = make_data(rows, 11)
    fits = [
        *((name, fit, repeats) for name, fit in sknormnet_fits(steady=False)),
        ("sknormnet_first", sknormnet_first_fit, repeats),
        ("keras", keras_fitter(1), repeats),
        ("mlp", mlp_fit, repeats),
    ]
    if keras.backend.backend() == "tensorflow" and not quick:
        fits.append(("keras_eager", keras_fitter(1, run_eagerly=True), 1))
        fits.append(("keras_xla", keras_fitter(1, jit_compile=True), 1))
    out = {}
    for name, fit, n in fits:
        fit(X, y, 1)  # warm the process: imports, first-call costs
        out[name] = best_time(lambda fit=fit: fit(X, y, epochs), n)
    return out


def steady_epoch(rows: int, epochs: int, repeats: int, keras_settings) -> dict:
    """Per-epoch time once compiled: (time(1 + epochs) - time(1)) / epochs.

    sknormnet and MLPRegressor fit a new estimator each time; the fixed cost
    of a fit cancels out of the difference. Raw Keras trains one compiled
    model on (its train function is traced by a first fit), once for each
    ``steps_per_execution`` in ``keras_settings``: tracing a new model costs
    more, and varies more, than the epochs being timed.
    """
    X, y = make_data(rows, 20)
    out = {}
    for name, fit in (*sknormnet_fits(steady=True), ("mlp", mlp_fit)):
        fit(X, y, 1)  # warm: imports, and every chunk shape compiled
        one = best_time(lambda fit=fit: fit(X, y, 1), repeats)
        many = best_time(lambda fit=fit: fit(X, y, 1 + epochs), repeats)
        out[name] = max(many - one, 0.0) / epochs
    for k in keras_settings:
        model = raw_keras_model(X.shape[1], k)

        def fit(n, model=model):
            model.fit(X, y, batch_size=BATCH, epochs=n, verbose=0)

        fit(1)
        one = best_time(lambda fit=fit: fit(1), repeats)
        many = best_time(lambda fit=fit: fit(1 + epochs), repeats)
        out[f"keras_spe{k}"] = max(many - one, 0.0) / epochs
    keras_times = {k: v for k, v in out.items() if k.startswith("keras_")}
    out["keras_best"] = min(keras_times.values())
    out["keras_best_setting"] = min(keras_times, key=keras_times.get)
    return out


def predict_latency(repeats: int) -> dict:
    X, y = make_data(2000, 11)
    est = sknormnet_fit(X, y, 2)
    model = est.model_
    mlp = mlp_fit(X, y, 2)
    out = {}
    for rows in (1, 100, 100_000):
        Xp = make_data(rows, 11, seed=1)[0]
        est.predict(Xp)
        model.predict(Xp, verbose=0)
        reps = repeats if rows < 100_000 else max(3, repeats // 5)
        out[str(rows)] = {
            "sknormnet": best_time(lambda Xp=Xp: est.predict(Xp), reps),
            "keras_predict": best_time(
                lambda Xp=Xp: model.predict(Xp, verbose=0), reps
            ),
            "mlp": best_time(lambda Xp=Xp: mlp.predict(Xp), reps),
        }
    return out


def _status_mib(field: str) -> float:
    """A memory figure of /proc/self/status in MiB (elsewhere: the peak RSS)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib() -> float:
    return _status_mib("VmRSS")


def memory_growth(n_fits: int, varied: bool) -> dict:
    """RSS before and after ``n_fits`` sequential fits (2 epochs, 1,000 rows).

    ``varied``: every fit a network no earlier fit had (hidden widths 8, 9,
    10, ...), the worst case for anything cached per architecture.

    The process is warmed first, and what the warm-up cost is reported apart
    (``warmup_mib``): imports, first traces, and one long fit of another
    network, past the TensorFlow engine's XLA threshold, which loads XLA's
    compiler once per process. The growth over the fits is what a long grid
    search adds on top. Both ends are taken after ``gc.collect()``; the start
    also after glibc's ``malloc_trim(0)``, so that the growth counts the freed
    heap the C allocator keeps (an upper bound of the process' cost), and the
    end once more after it (``trimmed_mib``): the growth of live memory; and
    once more after clearing the runner cache (``without_cache_mib``): what
    is left when the cached runners are gone.
    """
    from sknormnet import NormNetRegressor, _engines

    X, y = make_data(1000, 11)

    def fit(i):
        params = dict(PARAMS)
        if varied:
            params["hidden_layer_sizes"] = (8 + i, 4 + i % 5)
        NormNetRegressor(max_iter=2, n_iter_no_change=2, **params).fit(X, y).predict(X)

    cold = _trimmed_rss()
    for i in range(3):
        fit(10_000 + i)  # warm the process: imports, first traces
    long_fit = dict(PARAMS, hidden_layer_sizes=(7, 3), batch_size=32, max_iter=100)
    NormNetRegressor(n_iter_no_change=100, **long_fit).fit(X, y)  # 3,200 steps
    before = _trimmed_rss()
    start = time.perf_counter()
    curve = {}  # RSS every 50 fits: a leak grows linearly, a bounded cache levels
    for i in range(n_fits):
        fit(i)
        if (i + 1) % 50 == 0:
            gc.collect()
            curve[str(i + 1)] = rss_mib() - before
    gc.collect()
    seconds = time.perf_counter() - start
    after = rss_mib()
    trimmed = _trimmed_rss()
    _engines.clear()  # what the cached runners held
    return {
        "fits": n_fits,
        "varied": varied,
        "warmup_mib": before - cold,
        "before_mib": before,
        "after_mib": after,
        "trimmed_mib": trimmed,
        "without_cache_mib": _trimmed_rss(),
        "growth_every_50_mib": curve,
        "seconds": seconds,
    }


def _trimmed_rss() -> float:
    """RSS after a collection and glibc's ``malloc_trim(0)`` (where there is glibc)."""
    from sknormnet import _engines

    gc.collect()
    _engines.release_free_heap()
    return rss_mib()


def _reset_peak() -> bool:
    """Reset the process' peak RSS (Linux >= 4.0); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def _peak_mib() -> float:
    """The process' peak RSS since the last reset (or since it started)."""
    return _status_mib("VmHWM")


def sparse_peak(rows: int, columns: int, density: float, repeats: int = 3) -> dict:
    """Peak RSS of fits on a wide sparse matrix, above the process before them.

    One batch of rows, ``rows`` and ``4 * rows``: the data's share of the
    peak must not grow with the rows. Each size is fitted ``repeats`` times,
    with the process' peak reset before every fit where Linux allows it and
    taken above the RSS just before that fit (what earlier fits left behind
    is the memory benchmark's business); the highest of a size's peaks is its
    figure: one fit's peak varies from fit to fit, and a peak that is never
    reset would credit the larger sizes with every earlier fit's peak too.
    """
    from scipy import sparse

    from sknormnet import NormNetRegressor

    rng = np.random.default_rng(0)
    X = sparse.random(
        4 * rows, columns, density=density, format="csr", random_state=rng
    )
    X = X.astype(np.float32)
    y = np.asarray(X[:, :50].sum(axis=1)).ravel()
    params = dict(hidden_layer_sizes=(64,), early_stopping=False, random_state=0)
    one_batch = 512  # the default batch size: the same traced step as below
    NormNetRegressor(max_iter=1, **params).fit(X[:one_batch], y[:one_batch])
    sizes = (one_batch, rows, 4 * rows)
    parts = {n: (X[:n], y[:n]) for n in sizes}  # the inputs exist before the baseline
    gc.collect()
    before = rss_mib()
    resets = _reset_peak()
    peak_before = _peak_mib()  # without resets: peaks so far count for every size
    fits, starts = {}, {}
    for n in sizes:
        fits[str(n)], starts[str(n)] = [], []
        for _ in range(repeats if resets else 1):
            gc.collect()
            start = rss_mib() if resets else before
            starts[str(n)].append(start - before)
            _reset_peak()
            NormNetRegressor(max_iter=2, **params).fit(*parts[n])
            peak = _peak_mib() if resets else max(_peak_mib(), peak_before)
            fits[str(n)].append(peak - start)
    gc.collect()
    left = rss_mib() - before
    growth = {n: max(values) for n, values in fits.items()}
    part = X[:rows]
    matrix = (part.data.nbytes + part.indices.nbytes + part.indptr.nbytes) / 2**20
    return {
        "rows": rows,
        "columns": columns,
        "density": density,
        "matrix_mib": matrix,
        "dense_epoch_mib": rows * columns * 4 / 2**20,
        "dense_batch_mib": one_batch * columns * 4 / 2**20,
        "baseline_mib": before,
        "peak_reset": resets,
        "peak_growth_mib": growth[str(rows)],
        "peak_growth_by_rows_mib": growth,
        "peak_growth_by_fit_mib": fits,
        "start_by_fit_mib": starts,  # RSS before each fit, above the baseline
        "left_mib": left,  # RSS after the last fit, above the baseline
    }


def imports_tensorflow_under_jax() -> bool:
    """Whether a fit and a predict under JAX import TensorFlow."""
    X, y = make_data(200, 5)
    sknormnet_fit(X, y, 1).predict(X)
    return "tensorflow" in sys.modules


def flop_limit(rows: int) -> dict:
    """The benchmark network's arithmetic per epoch, and this machine's matmul rate.

    Forward and backward of a Dense layer cost about 6 * rows * fan_in *
    fan_out floating-point operations; the rate is that of a float32 matrix
    product of the network's size, on all cores.
    """
    widths = [20, 128, 64, 1]
    flops = sum(6 * rows * a * b for a, b in itertools.pairwise(widths))
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2048, 512)).astype(np.float32)
    b = rng.normal(size=(512, 512)).astype(np.float32)
    seconds = best_time(lambda: a @ b, 20)
    rate = 2 * 2048 * 512 * 512 / seconds
    return {"flops": flops, "gflops_per_second": rate / 1e9, "seconds": flops / rate}


def backend_part(quick: bool) -> dict:
    """Everything measured in one backend's process."""
    import keras
    from sklearn.exceptions import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)
    repeats = 2 if quick else 3
    result = {"backend": keras.backend.backend()}
    result["fresh"] = fresh_fit(1600, 20, repeats, quick)
    result["steady"] = {}
    for rows in (30_000,) if quick else (30_000, 300_000):
        result["steady"][str(rows)] = steady_epoch(
            rows,
            2 if quick else 4,
            1 if quick else 2,
            (1, 16) if quick else KERAS_STEPS_PER_EXECUTION,
        )
    result["predict"] = predict_latency(5 if quick else 20)
    result["flop_limit"] = {rows: flop_limit(int(rows)) for rows in result["steady"]}
    if keras.backend.backend() == "jax":
        result["imports_tensorflow"] = imports_tensorflow_under_jax()
    elif keras.backend.backend() == "tensorflow":
        from sknormnet import _engine_tensorflow

        result["xla_min_steps"] = _engine_tensorflow.XLA_MIN_STEPS
    return result


def memory_part(quick: bool) -> dict:
    """Memory figures, each in a fresh process of the backend (``--part``)."""
    from sklearn.exceptions import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)
    n = 20 if quick else 300
    return {
        "same": memory_growth(n, varied=False),
        "varied": memory_growth(n, varied=True),
    }


# ------------------------------------------------------------- orchestration
OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
KEEP_OPENBLAS = False  # --keep-openblas-env


def run_child(args: list[str], env: dict | None = None) -> dict:
    """Run a Python child, echo its stderr on failure, parse its last stdout line.

    The OpenBLAS variables are unset in the child unless ``KEEP_OPENBLAS``.
    """
    env = {**os.environ, **(env or {})}
    if not KEEP_OPENBLAS:
        for name in OPENBLAS_VARIABLES:
            env.pop(name, None)
    result = subprocess.run(
        [sys.executable, *args],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-4000:])
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode})")
    return json.loads(result.stdout.strip().splitlines()[-1])


def grid_part(quick: bool, backend: str) -> dict:
    """The Spotify 2 x 2 grid: n_jobs=1 and 2, and scikeras if installed."""
    script = str(HERE / "grid_search.py")
    size = ["--rows", "2000", "--epochs", "2", "--runs", "1"] if quick else []
    env = {"KERAS_BACKEND": backend}
    # TF_NUM_*_THREADS=0 is TensorFlow's own default (a thread per core): as
    # a user setting, it keeps the package from passing the workers' limit on
    unlimited = {"TF_NUM_INTRAOP_THREADS": "0", "TF_NUM_INTEROP_THREADS": "0"}
    configs = [("sknormnet", 1, "", {})]
    if not quick:
        configs.append(("sknormnet", 2, "", {}))
        configs.append(("sknormnet", 2, "_unlimited", unlimited))
        if importlib.util.find_spec("scikeras") is not None:
            configs.append(("scikeras", 1, "", {}))
    out = {}
    for impl, n_jobs, suffix, extra in configs:
        print(
            f"  grid search: {impl}, n_jobs={n_jobs}{suffix}",
            file=sys.stderr,
            flush=True,
        )
        out[f"{impl}_n_jobs{n_jobs}{suffix}"] = run_child(
            [script, "--impl", impl, "--n-jobs", str(n_jobs), *size], {**env, **extra}
        )
    return out


def versions(*extra: str) -> dict:
    """Versions of Python and of the packages the figures depend on (and ``extra``)."""
    out = {"python": platform.python_version()}
    for package in (
        "sknormnet",
        "keras",
        "tensorflow",
        "jax",
        "jaxlib",
        "numpy",
        "scikit-learn",
        "scikeras",
        *extra,
    ):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return out


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip()
                for line in info
                if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    memory = None
    try:
        with open("/proc/meminfo") as info:
            memory = int(next(line.split()[1] for line in info)) / 2**20
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory, 1) if memory else None,
        "system": f"{platform.system()} {platform.release()}",
        "gpu": "none used (CPU only)",
    }


def available_backends() -> list[str]:
    found = [
        name
        for name in ("tensorflow", "jax")
        if importlib.util.find_spec(name) is not None
    ]
    return found


# ------------------------------------------------------------------- report
def goals(results: dict) -> list[dict]:
    """Every goal with its measured figure, target and verdict."""
    rows = []

    def add(goal, figure, target, met, detail=""):
        rows.append(
            {
                "goal": goal,
                "figure": figure,
                "target": target,
                "met": bool(met),
                "detail": detail,
            }
        )

    def other_tier(times, part):
        """The TensorFlow engine's other tier, for the record."""
        threshold = part.get("xla_min_steps")
        if "sknormnet_plain" in times:
            plain = times["sknormnet_plain"]
            return (
                f"; the figure is the XLA tier, which fits planned to run at "
                f"least {threshold:,} steps run (the default max_iter's at this "
                f"size); the plain graph of shorter fits: {plain:.4f} s = "
                f"{plain / times['mlp']:.2f}x"
            )
        if "sknormnet_xla" in times:
            xla = times["sknormnet_xla"]
            return (
                f"; the figure is the tier this fit runs by default (its 140 steps "
                f"are under the XLA threshold of {threshold:,}); with the XLA tier: "
                f"{xla:.4f} s = {xla / times['mlp']:.2f}x"
            )
        return ""

    for backend, part in results["backends"].items():
        fresh = part["fresh"]
        ratio = fresh["sknormnet"] / fresh["mlp"]
        target = 1.0 if backend == "tensorflow" else 0.7
        add(
            f"fresh fit 1,600 x 20 epochs vs MLPRegressor ({backend})",
            f"{fresh['sknormnet']:.3f} s vs {fresh['mlp']:.3f} s = {ratio:.2f}x",
            f"<= {target:.1f}x",
            ratio <= target,
            f"first fit of an architecture: {fresh['sknormnet_first']:.2f} s; "
            f"raw Keras {fresh['keras']:.2f} s" + other_tier(fresh, part),
        )
        for rows_, steady in part["steady"].items():
            ratio = steady["sknormnet"] / steady["mlp"]
            limit = part["flop_limit"][rows_]["seconds"]
            add(
                f"steady epoch {int(rows_):,} rows vs MLPRegressor ({backend})",
                f"{steady['sknormnet']:.4f} s vs {steady['mlp']:.4f} s = {ratio:.2f}x",
                f"<= {target:.1f}x",
                ratio <= target,
                f"FLOP limit {limit:.4f} s: {100 * limit / steady['sknormnet']:.0f} % "
                f"of it; raw Keras best {steady['keras_best']:.4f} s "
                f"({steady['keras_best_setting']})" + other_tier(steady, part),
            )
        one = part["predict"]["1"]
        add(
            f"predict 1 row ({backend})",
            f"{one['sknormnet'] * 1e3:.4f} ms (MLPRegressor "
            f"{one['mlp'] * 1e3:.3f} ms, model.predict "
            f"{one['keras_predict'] * 1e3:.2f} ms)",
            "<= 0.05 ms",
            one["sknormnet"] <= 5e-5,
        )
        big = part["predict"]["100000"]
        ratio = big["sknormnet"] / big["keras_predict"]
        add(
            f"predict 100,000 rows vs model.predict ({backend})",
            f"{big['sknormnet'] * 1e3:.1f} ms vs {big['keras_predict'] * 1e3:.1f} ms "
            f"= {ratio:.2f}x",
            "<= 1.0x",
            ratio <= 1.0,
        )
        for memory in part["memory"].values():
            growth = memory["after_mib"] - memory["before_mib"]
            what = "a new architecture each" if memory["varied"] else "one architecture"
            add(
                f"RSS growth over {memory['fits']} fits, {what} ({backend})",
                f"{growth:+.1f} MiB",
                "<= 50 MiB",
                growth <= 50,
                f"{memory['seconds']:.0f} s for the fits; once before them (imports, "
                f"first traces, XLA's compiler): {memory.get('warmup_mib', 0):+.0f}"
                + (
                    f"; after malloc_trim {memory['trimmed_mib'] - memory['before_mib']:+.0f}"
                    if memory.get("trimmed_mib") is not None
                    else ""
                )
                + (
                    f", and without the runner cache "
                    f"{memory['without_cache_mib'] - memory['before_mib']:+.0f}"
                    if memory.get("without_cache_mib") is not None
                    else ""
                )
                + "; growth by fit"
                + "".join(
                    f"; {int(n)}: {g:+.0f}"
                    for n, g in memory.get("growth_every_50_mib", {}).items()
                ),
            )
        sparse = part["sparse"]
        by_rows = sparse.get("peak_growth_by_rows_mib", {})
        by_fit = sparse.get("peak_growth_by_fit_mib", {})
        more = max(by_rows, key=int) if by_rows else None
        # one fit's peak varies by up to a batch's copy from fit to fit: the
        # most rows' highest peak is held against the highest of every smaller
        # size (one batch is the least a fit can densify)
        fewer = max((g for n, g in by_rows.items() if n != more), default=None)
        add(
            f"peak RSS of a fit on {sparse['rows']:,} x {sparse['columns']:,} sparse "
            f"({sparse['density']:.0%}) ({backend})",
            f"+{sparse['peak_growth_mib']:.0f} MiB (matrix {sparse['matrix_mib']:.0f} "
            f"MiB; one dense batch {sparse.get('dense_batch_mib', 0):.0f} MiB, one "
            f"dense epoch {sparse['dense_epoch_mib']:.0f} MiB)",
            "does not grow with the rows (the most rows' highest peak within "
            "10 % of the highest at fewer rows)",
            fewer is not None and by_rows[more] <= 1.1 * fewer,
            ", ".join(
                f"{int(n):,} rows: +{g:.0f} MiB"
                + (
                    " (fits: " + ", ".join(f"+{v:.0f}" for v in by_fit[n]) + ")"
                    if len(by_fit.get(n, ())) > 1
                    else ""
                )
                for n, g in by_rows.items()
            )
            + ("" if sparse.get("peak_reset") else "; peak not reset between fits")
            + (
                f"; RSS left after all {sum(map(len, by_fit.values()))} fits "
                f"{sparse['left_mib']:+.0f} MiB"
                if "left_mib" in sparse
                else ""
            ),
        )
        if "imports_tensorflow" in part:
            add(
                f"a fit imports no TensorFlow ({backend})",
                "TensorFlow imported" if part["imports_tensorflow"] else "not imported",
                "not imported",
                not part["imports_tensorflow"],
            )
    grid = results.get("grid") or {}
    if "sknormnet_n_jobs1" in grid and "sknormnet_n_jobs2" in grid:
        one, two = grid["sknormnet_n_jobs1"], grid["sknormnet_n_jobs2"]
        cold = one["seconds"][0] / two["seconds"][0]
        detail = f"first search, new workers: {cold:.2f}x"
        if len(one["seconds"]) > 1:
            warm = min(one["seconds"][1:]) / min(two["seconds"][1:])
            detail += f"; workers reused: {warm:.2f}x"
        add("grid search n_jobs=2 vs n_jobs=1", detail, "reference", True)
    if "scikeras_n_jobs1" in grid and "sknormnet_n_jobs1" in grid:
        ours, theirs = grid["sknormnet_n_jobs1"], grid["scikeras_n_jobs1"]
        ratio = theirs["seconds"][0] / ours["seconds"][0]
        detail = ""
        if len(ours["seconds"]) > 1 and len(theirs["seconds"]) > 1:
            warm = min(theirs["seconds"][1:]) / min(ours["seconds"][1:])
            detail = f"second search in the same process: {warm:.1f}x"
        add(
            "Spotify grid search vs scikeras KerasRegressor (n_jobs=1)",
            f"{theirs['seconds'][0]:.1f} s / {ours['seconds'][0]:.1f} s "
            f"= {ratio:.1f}x faster",
            ">= 3x",
            ratio >= 3,
            detail,
        )
    return rows


def describe_machine(m: dict) -> str:
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
        f"{m['system']}, {m['gpu']}"
    )


def describe_versions(v: dict) -> str:
    return ", ".join(f"{k} {val}" for k, val in v.items())


def print_report(results: dict) -> None:
    print(f"# sknormnet benchmarks ({results['mode']}), {results['date']}")
    print(f"machine: {describe_machine(results['machine'])}")
    print(f"versions: {describe_versions(results['versions'])}")
    outside = ", ".join(
        f"{k}={v if v is not None else 'unset'}"
        for k, v in results["openblas_env_outside"].items()
    )
    ran = ", ".join(
        f"{k}={v if v is not None else 'unset'}"
        for k, v in results["openblas_env"].items()
    )
    print(f"OpenBLAS variables: the benchmarks ran with {ran} (environment: {outside})")
    for backend, part in results["backends"].items():
        print(f"\n## {backend}")
        fresh = part["fresh"]
        print("\nFresh-model fit, 1,600 x 11, 20 epochs (warm process)")
        print("| | seconds | vs raw Keras | vs MLPRegressor |\n|---|---|---|---|")
        for name, seconds in fresh.items():
            print(
                f"| {name} | {seconds:.3f} | {seconds / fresh['keras']:.2f} | "
                f"{seconds / fresh['mlp']:.2f} |"
            )
        for rows, steady in part["steady"].items():
            print(f"\nSteady epoch, {int(rows):,} x 20")
            print(
                "| | s/epoch | vs raw Keras best | vs MLPRegressor |\n|---|---|---|---|"
            )
            for name, seconds in steady.items():
                if name == "keras_best_setting":
                    continue
                print(
                    f"| {name} | {seconds:.4f} | "
                    f"{seconds / steady['keras_best']:.2f} | "
                    f"{seconds / steady['mlp']:.2f} |"
                )
        print("\nPredict latency")
        print("| rows | sknormnet | model.predict | MLPRegressor | speed-up vs Keras |")
        print("|---|---|---|---|---|")
        for rows, row in part["predict"].items():
            print(
                f"| {int(rows):,} | {row['sknormnet'] * 1e3:.3f} ms | "
                f"{row['keras_predict'] * 1e3:.3f} ms | {row['mlp'] * 1e3:.3f} ms | "
                f"{row['keras_predict'] / row['sknormnet']:.0f}x |"
            )
        for memory in part["memory"].values():
            what = "a new architecture each" if memory["varied"] else "one architecture"
            print(
                f"\nRSS over {memory['fits']} sequential fits, {what}: "
                f"{memory['before_mib']:.0f} -> {memory['after_mib']:.0f} MiB "
                f"({memory['after_mib'] - memory['before_mib']:+.1f}; warm-up before "
                f"them {memory.get('warmup_mib', 0):+.0f})"
            )
        sparse = part["sparse"]
        print(
            f"Peak RSS growth, one fit on {sparse['rows']:,} x {sparse['columns']:,} "
            f"sparse at {sparse['density']:.0%}: +{sparse['peak_growth_mib']:.0f} MiB"
            + "".join(
                f"; {int(n):,} rows: +{g:.0f} MiB"
                for n, g in sparse.get("peak_growth_by_rows_mib", {}).items()
            )
        )
    if results.get("grid"):
        print("\n## Spotify 2 x 2 grid search (seconds per search, in order)")
        print("| | rows | epochs | searches (s) |\n|---|---|---|---|")
        for name, row in results["grid"].items():
            times = ", ".join(f"{s:.1f}" for s in row["seconds"])
            print(f"| {name} | {row['rows']:,} | {row['epochs']} | {times} |")
    print("\n## Goals")
    print("| goal | measured | target | met |\n|---|---|---|---|")
    for row in results["goals"]:
        detail = f" ({row['detail']})" if row["detail"] else ""
        verdict = "met" if row["met"] else "NOT met"
        if row["target"] == "reference":
            verdict = "-"
        print(
            f"| {row['goal']} | {row['figure']}{detail} | {row['target']} | {verdict} |"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI)")
    parser.add_argument(
        "--backends",
        help="comma-separated Keras backends (default: all installed; with "
        "--quick, KERAS_BACKEND or tensorflow)",
    )
    parser.add_argument("--no-grid", action="store_true", help="skip the grid search")
    parser.add_argument(
        "--parts",
        default="timing,memory,grid",
        help="comma-separated parts to measure: timing, memory (RSS growth and "
        "the sparse peak, which load on the machine does not change), sparse "
        "(the sparse peak alone), grid",
    )
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument(
        "--update",
        action="store_true",
        help="read --json first and replace only the parts measured now (the "
        "timing and memory of a backend can then come from separate runs)",
    )
    parser.add_argument(
        "--keep-openblas-env",
        action="store_true",
        help="leave OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE set in the children",
    )
    parser.add_argument(
        "--part", choices=["backend", "memory", "sparse"], help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)

    if args.part == "backend":  # a child: one backend, figures as JSON
        print(json.dumps(backend_part(args.quick)))
        return 0
    if args.part == "memory":
        print(json.dumps(memory_part(args.quick)))
        return 0
    if args.part == "sparse":
        size = (1000, 5000, 0.01) if args.quick else (4000, 50_000, 0.01)
        print(json.dumps(sparse_peak(*size)))
        return 0

    if args.backends:
        backends = args.backends.split(",")
    elif args.quick:
        backends = [os.environ.get("KERAS_BACKEND", "tensorflow")]
    else:
        backends = available_backends()
    parts = set(args.parts.split(","))
    unknown = parts - {"timing", "memory", "sparse", "grid"}
    if unknown:
        parser.error(f"unknown --parts: {', '.join(sorted(unknown))}")
    previous = {}
    if args.update and args.json and Path(args.json).exists():
        previous = json.loads(Path(args.json).read_text())
    results = {
        "mode": "quick" if args.quick else "full",
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "versions": versions(),
        "backends": previous.get("backends", {}),
    }
    if "grid" in previous:
        results["grid"] = previous["grid"]
    global KEEP_OPENBLAS
    KEEP_OPENBLAS = args.keep_openblas_env
    blas = {name: os.environ.get(name) for name in OPENBLAS_VARIABLES}
    results["openblas_env"] = (
        blas if args.keep_openblas_env else dict.fromkeys(OPENBLAS_VARIABLES)
    )
    results["openblas_env_outside"] = blas
    started = time.perf_counter()
    quick = ["--quick"] if args.quick else []
    for backend in backends:
        env = {"KERAS_BACKEND": backend}
        part = results["backends"].setdefault(backend, {})
        if "timing" in parts:
            print(f"timing the {backend} backend ...", file=sys.stderr, flush=True)
            part.update(run_child([__file__, "--part", "backend", *quick], env))
        if "memory" in parts:
            print(f"  memory on {backend} ...", file=sys.stderr, flush=True)
            part["memory"] = run_child([__file__, "--part", "memory", *quick], env)
        if "memory" in parts or "sparse" in parts:
            print(f"  sparse peak on {backend} ...", file=sys.stderr, flush=True)
            part["sparse"] = run_child([__file__, "--part", "sparse", *quick], env)
    if "grid" in parts and not args.no_grid:
        results["grid"] = grid_part(args.quick, backends[0])
    results["seconds"] = previous.get("seconds", 0) + time.perf_counter() - started
    missing = [
        f"{name} ({backend})"
        for backend, part in results["backends"].items()
        for name, key in (("timing", "fresh"), ("memory", "memory"))
        if key not in part
    ]
    if missing:
        Path(args.json or os.devnull).write_text(json.dumps(results, indent=1) + "\n")
        print(f"measured; still missing for a report: {', '.join(missing)}")
        return 0
    results["goals"] = goals(results)
    print_report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
