"""Speed, latency and memory of NormNetRegressor against its peers, side by side.

Run ``python benchmarks/run.py --quick`` (a minute or two) or without
``--quick`` for the full sizes. The Keras backend is the one Keras picks
(``KERAS_BACKEND``); raw Keras is always timed on that same backend. Every
figure is a median of repeats in this one process, and the table prints each
as a ratio to the peer named in its row, so a busy machine shifts both sides.

The network (as in the performance notes): input -> Dense(128, relu) ->
Dropout(0.3) -> BN -> Dense(64, relu) -> Dropout(0.3) -> BN -> Dense(1), Adam,
batch 256. MLPRegressor (128, 64) has no dropout or batchnorm and serves as the
speed reference.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import statistics
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from sknormnet import NormNetRegressor

BATCH = 256
PARAMS = dict(
    hidden_layer_sizes=(128, 64),
    dropout_rate=0.3,
    batchnorm="after_activation",
    batch_size=BATCH,
    alpha=0.0,
    tol=0.0,
    random_state=0,
)


def make_data(n_rows: int, n_features: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_features)).astype(np.float32)
    w = rng.normal(size=n_features)
    y = np.tanh(X @ w / np.sqrt(n_features)) + 0.1 * rng.normal(size=n_rows)
    return X, y.astype(np.float32)


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def raw_keras_model(n_features: int):
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
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model


def sknormnet_fit(X, y, epochs):
    return NormNetRegressor(max_iter=epochs, n_iter_no_change=epochs, **PARAMS).fit(
        X, y
    )


def mlp_fit(X, y, epochs):
    return MLPRegressor(
        hidden_layer_sizes=(128, 64),
        batch_size=BATCH,
        max_iter=epochs,
        n_iter_no_change=epochs,
        tol=0.0,
        alpha=0.0,
        random_state=0,
    ).fit(X, y)


def keras_fit(X, y, epochs):
    model = raw_keras_model(X.shape[1])
    model.fit(X, y, batch_size=BATCH, epochs=epochs, verbose=0)
    return model


def fresh_fit(rows: int, epochs: int, repeats: int) -> dict:
    """Wall time of a whole fit of a new model (warm process)."""
    X, y = make_data(rows, 11)
    out = {}
    for name, fit in (
        ("sknormnet", sknormnet_fit),
        ("keras", keras_fit),
        ("mlp", mlp_fit),
    ):
        fit(X, y, 1)  # warm the process: imports, first-call costs
        out[name] = timed(lambda fit=fit: fit(X, y, epochs), repeats)
    return out


def steady_epoch(rows: int, epochs: int) -> dict:
    """Per-epoch time once compiled: (time(1 + epochs) - time(1)) / epochs.

    Each side is warmed by one fit first; a fixed per-fit cost (raw Keras
    traces every new model) cancels out of the difference.
    """
    X, y = make_data(rows, 20)
    out = {}
    for name, fit in (
        ("sknormnet", sknormnet_fit),
        ("keras", keras_fit),
        ("mlp", mlp_fit),
    ):
        fit(X, y, 1)
        one = timed(lambda fit=fit: fit(X, y, 1), 1)
        many = timed(lambda fit=fit: fit(X, y, 1 + epochs), 1)
        out[name] = max(many - one, 1e-9) / epochs
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
        out[rows] = {
            "sknormnet": timed(lambda Xp=Xp: est.predict(Xp), repeats),
            "keras_predict": timed(lambda Xp=Xp: model.predict(Xp, verbose=0), repeats),
            "mlp": timed(lambda Xp=Xp: mlp.predict(Xp), repeats),
        }
    return out


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_growth(n_fits: int) -> tuple[float, float]:
    X, y = make_data(1000, 11)
    for _ in range(3):
        sknormnet_fit(X, y, 2)
    gc.collect()
    before = rss_mib()
    for _ in range(n_fits):
        sknormnet_fit(X, y, 2)
    gc.collect()
    return before, rss_mib()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    args = parser.parse_args(argv)
    import keras

    quick = args.quick
    repeats = 2 if quick else 5
    print(f"# sknormnet benchmarks ({'quick' if quick else 'full'})")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, Keras {keras.__version__} "
        f"({keras.backend.backend()}), NumPy {np.__version__}, "
        f"date {time.strftime('%Y-%m-%d')}"
    )
    warnings.simplefilter("ignore", ConvergenceWarning)

    print("\n## Fresh-model fit, 1,600 x 11, 20 epochs (median)")
    fresh = fresh_fit(1600, 20, repeats)
    print("| | seconds | vs raw Keras | vs MLPRegressor |\n|---|---|---|---|")
    for name, seconds in fresh.items():
        print(
            f"| {name} | {seconds:.3f} | {seconds / fresh['keras']:.2f} | "
            f"{seconds / fresh['mlp']:.2f} |"
        )

    sizes = (30_000,) if quick else (30_000, 300_000)
    for rows in sizes:
        epochs = 2 if quick else 5
        print(f"\n## Steady epoch, {rows:,} x 20 ({epochs} epochs after the first)")
        steady = steady_epoch(rows, epochs)
        print("| | s/epoch | vs raw Keras | vs MLPRegressor |\n|---|---|---|---|")
        for name, seconds in steady.items():
            print(
                f"| {name} | {seconds:.3f} | {seconds / steady['keras']:.2f} | "
                f"{seconds / steady['mlp']:.2f} |"
            )

    print("\n## Predict latency (median)")
    latency = predict_latency(5 if quick else 20)
    print(
        "| rows | sknormnet | Keras model.predict | MLPRegressor | speed-up vs Keras |"
    )
    print("|---|---|---|---|---|")
    for rows, row in latency.items():
        print(
            f"| {rows:,} | {row['sknormnet'] * 1e3:.3f} ms | "
            f"{row['keras_predict'] * 1e3:.3f} ms | {row['mlp'] * 1e3:.3f} ms | "
            f"{row['keras_predict'] / row['sknormnet']:.0f}x |"
        )

    n_fits = 20 if quick else 100
    before, after = memory_growth(n_fits)
    print(
        f"\n## Memory: RSS over {n_fits} sequential fits: {before:.0f} -> "
        f"{after:.0f} MiB ({after - before:+.0f} MiB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
