"""Speed, latency and memory of NormNetRegressor against its peers, side by side.

``python benchmarks/run.py`` runs everything and prints one table of ratios,
each marked against its goal, plus the machine's description; ``--json``
writes the figures to a file (``benchmarks/plot.py`` draws them). ``--quick``
(CI) uses small sizes, the default Keras backend only and a small grid
search with n_jobs=1.

Each Keras backend is timed in a process of its own (``KERAS_BACKEND`` set
for it), always against raw Keras on that same backend and scikit-learn's
MLPRegressor in that same process. The grid searches run in processes of
their own too (scikeras changes Keras when it is imported).

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
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
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


def sknormnet_first_fit(X, y, epochs):
    """A fit of an architecture no earlier fit in the process has used."""
    from sknormnet import _trainers

    _trainers._pool.clear()
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
        ("sknormnet", sknormnet_fit, repeats),
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
    for name, fit in (("sknormnet", sknormnet_fit), ("mlp", mlp_fit)):
        fit(X[:2000], y[:2000], 1)
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


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_growth(n_fits: int) -> dict:
    X, y = make_data(1000, 11)
    for _ in range(3):
        sknormnet_fit(X, y, 2).predict(X)
    gc.collect()
    before = rss_mib()
    for _ in range(n_fits):
        sknormnet_fit(X, y, 2).predict(X)
    gc.collect()
    return {"fits": n_fits, "before_mib": before, "after_mib": rss_mib()}


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
    result["memory"] = memory_growth(20 if quick else 100)
    return result


# ------------------------------------------------------------- orchestration
def run_child(args: list[str], env: dict | None = None) -> dict:
    """Run a Python child, echo its stderr on failure, parse its last stdout line."""
    result = subprocess.run(
        [sys.executable, *args],
        env={**os.environ, **(env or {})},
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

    for backend, part in results["backends"].items():
        fresh = part["fresh"]
        ratio = fresh["sknormnet"] / fresh["keras"]
        add(
            f"fresh fit 1,600 x 20 epochs vs raw Keras ({backend})",
            f"{fresh['sknormnet']:.2f} s vs {fresh['keras']:.2f} s = {ratio:.2f}x",
            "<= 0.33x",
            ratio <= 1 / 3,
            f"first fit of an architecture: {fresh['sknormnet_first']:.2f} s",
        )
        for rows_, steady in part["steady"].items():
            ratio = steady["sknormnet"] / steady["keras_best"]
            add(
                f"steady epoch {int(rows_):,} rows vs raw Keras best ({backend})",
                f"{steady['sknormnet']:.3f} s vs {steady['keras_best']:.3f} s "
                f"({steady['keras_best_setting']}) = {ratio:.2f}x",
                "<= 1.0x",
                ratio <= 1.0,
            )
            ratio = steady["sknormnet"] / steady["mlp"]
            add(
                f"steady epoch {int(rows_):,} rows vs MLPRegressor ({backend})",
                f"{steady['sknormnet']:.3f} s vs {steady['mlp']:.3f} s = {ratio:.2f}x",
                "<= 1.0x (JAX goal)" if backend == "jax" else "reference",
                ratio <= 1.0,
            )
        predict = part["predict"]
        one = predict["1"]
        speedup = one["keras_predict"] / one["sknormnet"]
        add(
            f"predict 1 row ({backend})",
            f"{one['sknormnet'] * 1e3:.3f} ms, {speedup:.0f}x faster than "
            "model.predict",
            "<= 1 ms and >= 20x",
            one["sknormnet"] <= 1e-3 and speedup >= 20,
        )
        big = predict["100000"]
        ratio = big["sknormnet"] / big["keras_predict"]
        add(
            f"predict 100,000 rows vs model.predict ({backend})",
            f"{big['sknormnet'] * 1e3:.1f} ms vs {big['keras_predict'] * 1e3:.1f} ms "
            f"= {ratio:.2f}x",
            "<= 1.0x",
            ratio <= 1.0,
        )
        memory = part["memory"]
        growth = memory["after_mib"] - memory["before_mib"]
        add(
            f"RSS growth over {memory['fits']} fits ({backend})",
            f"{growth:+.1f} MiB",
            "<= 50 MiB",
            growth <= 50,
        )
    grid = results.get("grid") or {}
    if "sknormnet_n_jobs1" in grid and "sknormnet_n_jobs2" in grid:
        one, two = grid["sknormnet_n_jobs1"], grid["sknormnet_n_jobs2"]
        cold = one["seconds"][0] / two["seconds"][0]
        if len(one["seconds"]) > 1:
            warm = min(one["seconds"][1:]) / min(two["seconds"][1:])
            add(
                "grid search n_jobs=2 vs n_jobs=1 (workers reused)",
                f"{min(one['seconds'][1:]):.1f} s / {min(two['seconds'][1:]):.1f} s "
                f"= {warm:.2f}x faster",
                ">= 1.6x",
                warm >= 1.6,
                f"first search, new workers: {one['seconds'][0]:.1f} s / "
                f"{two['seconds'][0]:.1f} s = {cold:.2f}x",
            )
        else:
            add(
                "grid search n_jobs=2 vs n_jobs=1 (new workers)",
                f"{cold:.2f}x faster",
                ">= 1.6x",
                cold >= 1.6,
            )
    if "sknormnet_n_jobs2_unlimited" in grid and "sknormnet_n_jobs2" in grid:
        limited, unlimited = (
            grid["sknormnet_n_jobs2"],
            grid["sknormnet_n_jobs2_unlimited"],
        )
        add(
            "thread limit in the workers (n_jobs=2, later searches)",
            f"{min(limited['seconds'][1:]):.1f} s limited vs "
            f"{min(unlimited['seconds'][1:]):.1f} s with TensorFlow's default pools",
            "before/after",
            True,
        )
        rows[-1]["target"] = "reference"
    if "scikeras_n_jobs1" in grid and "sknormnet_n_jobs1" in grid:
        ours, theirs = grid["sknormnet_n_jobs1"], grid["scikeras_n_jobs1"]
        ratio = theirs["seconds"][0] / ours["seconds"][0]
        detail = ""
        if len(ours["seconds"]) > 1 and len(theirs["seconds"]) > 1:
            warm = min(theirs["seconds"][1:]) / min(ours["seconds"][1:])
            detail = f"second search in the same process: {warm:.1f}x"
        add(
            "grid search vs scikeras KerasRegressor (n_jobs=1, first search)",
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
        mem = part["memory"]
        print(
            f"\nRSS over {mem['fits']} sequential fits: {mem['before_mib']:.0f} -> "
            f"{mem['after_mib']:.0f} MiB ({mem['after_mib'] - mem['before_mib']:+.1f})"
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
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--part", choices=["backend"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.part == "backend":  # a child: one backend, figures as JSON
        print(json.dumps(backend_part(args.quick)))
        return 0

    if args.backends:
        backends = args.backends.split(",")
    elif args.quick:
        backends = [os.environ.get("KERAS_BACKEND", "tensorflow")]
    else:
        backends = available_backends()
    results = {
        "mode": "quick" if args.quick else "full",
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "versions": versions(),
        "backends": {},
    }
    started = time.perf_counter()
    for backend in backends:
        print(f"timing the {backend} backend ...", file=sys.stderr, flush=True)
        results["backends"][backend] = run_child(
            [__file__, "--part", "backend", *(["--quick"] if args.quick else [])],
            {"KERAS_BACKEND": backend},
        )
    if not args.no_grid:
        results["grid"] = grid_part(args.quick, backends[0])
    results["seconds"] = time.perf_counter() - started
    results["goals"] = goals(results)
    print_report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
