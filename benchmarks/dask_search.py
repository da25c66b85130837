"""Wall time of one grid search: serial, on a Dask LocalCluster, and with joblib's loky.

``python benchmarks/dask_search.py`` runs the same GridSearchCV three ways
and prints the wall times, their ratios to the serial run, the thread limits
each kind of worker process had, and the machine's description:

- serial: ``n_jobs=1`` in this process;
- dask: ``joblib.parallel_config(backend="dask")`` with a
  ``distributed.LocalCluster`` of 2 worker processes x 1 thread on loopback;
- loky: ``n_jobs=2``, joblib's default process pool.

The search is the Spotify pipeline of ``examples/plot_grid_search.py``
(scaled audio features and a one-hot genre into the lesson's 128-64 network,
mean absolute error, batches of 512), every batchnorm placement x two
dropout rates, with GroupKFold(3) by artist: 10 candidates x 3 folds = 30
fits. Every process is warmed up first (Keras imported, one small fit), so
the times compare the searches, not TensorFlow's import; the cluster's start
is timed separately. The three searches must give identical scores (checked).
``--quick`` uses 2000 rows, 2 epochs and 4 candidates.

``--worker-death N`` instead runs the quick search N times on a
LocalCluster, each time killing one worker process (``os._exit(1)``) at the
end of the first epoch of the k-th fit (k = 0, 2, 4, ...), once as plainly
written and once with the inputs broadcast to every worker and the Active
Memory Manager stopped (the recipe of docs/distributed.rst), and counts the
searches that finished with the serial run's scores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import joblib
import numpy as np

# run as a script: this folder is on the import path
from grid_search import FEATURES, preprocessor
from run import describe_machine, describe_versions, machine, versions
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline

from sknormnet import NormNetRegressor
from sknormnet.datasets import load_spotify

PLACEMENTS = [None, "input", "before_dense", "before_activation", "after_activation"]


def quiet():
    # every fit runs a fixed number of epochs: reaching max_iter is the plan
    warnings.filterwarnings("ignore", category=ConvergenceWarning)


def warm_up():
    """One small fit in this process (it imports Keras); its thread limits."""
    quiet()
    rng = np.random.default_rng(0)
    NormNetRegressor(hidden_layer_sizes=(4,), max_iter=1).fit(
        rng.normal(size=(32, 3)), rng.normal(size=32)
    )
    import keras

    limits = {
        name: os.environ.get(name, "unset")
        for name in (
            "OMP_NUM_THREADS",
            "MKL_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "TF_NUM_INTRAOP_THREADS",
            "TF_NUM_INTEROP_THREADS",
        )
    }
    limits["keras_backend"] = keras.backend.backend()
    limits["os_threads"] = len(os.listdir("/proc/self/task"))
    return os.getpid(), limits


def make_search(n_rows: int, epochs: int, quick: bool, callbacks=None):
    frame = load_spotify(as_frame=True).frame.dropna().sample(n=n_rows, random_state=0)
    X = frame[[*FEATURES, "playlist_genre"]]
    y = frame["track_popularity"] / 100
    pipeline = make_pipeline(
        preprocessor(),
        NormNetRegressor(
            hidden_layer_sizes=(128, 64),
            loss="absolute_error",
            batch_size=512,
            batchnorm_momentum=0.9,
            max_iter=epochs,
            n_iter_no_change=epochs,
            alpha=0.0,
            random_state=0,
            callbacks=callbacks,
        ),
    )
    grid = {
        "normnetregressor__batchnorm": [None, "after_activation"]
        if quick
        else PLACEMENTS,
        "normnetregressor__dropout_rate": [0.0, 0.3],
    }

    groups = frame["track_artist"]

    def run(cv=None, **kwargs):
        search = GridSearchCV(
            pipeline,
            grid,
            cv=GroupKFold(n_splits=3) if cv is None else cv,
            scoring="neg_mean_absolute_error",
            refit=False,
            **kwargs,
        )
        start = time.perf_counter()
        search.fit(X, y, groups=groups)
        return time.perf_counter() - start, search

    run.data = (X, y, groups)
    n_fits = 3 * len(grid["normnetregressor__batchnorm"]) * 2
    return run, n_fits


def exit_at_fit_class():
    """A Keras callback that kills the worker process running the k-th fit."""
    import keras

    class ExitAtFit(keras.callbacks.Callback):
        # Fits are counted across processes with files made atomically in
        # ``folder``; the process that created the callback never exits.
        def __init__(self, folder, k):
            super().__init__()
            self.folder, self.k, self.owner = folder, k, os.getpid()
            self.index = None

        def on_train_begin(self, logs=None):
            i = 0
            while not claim(os.path.join(self.folder, f"fit-{i}")):
                i += 1
            self.index = i

        def on_epoch_end(self, epoch, logs=None):
            if os.getpid() == self.owner or self.index != self.k:
                return
            if claim(os.path.join(self.folder, "died")):
                os._exit(1)

    return ExitAtFit


def claim(path) -> bool:
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def worker_deaths(trials: int, client) -> int:
    import tempfile

    reference = make_search(2000, 2, True)[0](n_jobs=1)[1]
    expected = reference.cv_results_["mean_test_score"]
    ExitAtFit = exit_at_fit_class()
    survived = {"plain": 0, "broadcast": 0}
    for trial in range(trials):
        k = 2 * trial
        for how in survived:
            folder = tempfile.mkdtemp()
            run, _ = make_search(2000, 2, True, callbacks=[ExitAtFit(folder, k)])
            X, y, groups = run.data
            try:
                if how == "plain":
                    with joblib.parallel_config(backend="dask"):
                        _, found = run()
                else:
                    splits = list(GroupKFold(n_splits=3).split(X, y, groups))
                    arrays = [X, y, *(rows for split in splits for rows in split)]
                    client.amm.stop()
                    try:
                        with joblib.parallel_config(backend="dask", scatter=arrays):
                            _, found = run(cv=splits)
                    finally:
                        client.amm.start()
                ok = np.array_equal(found.cv_results_["mean_test_score"], expected)
                outcome = "finished, scores equal" if ok else "finished, scores DIFFER"
                survived[how] += ok
            except Exception as exc:
                outcome = f"failed: {type(exc).__name__}: {str(exc)[:80]}"
            died = os.path.exists(os.path.join(folder, "died"))
            print(f"  fit {k:>2} {how:<9} worker died: {died}; search {outcome}")
            client.wait_for_workers(2, timeout=120)
    for how, count in survived.items():
        print(f"{how}: {count} of {trials} searches survived a worker death")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="small, for CI")
    parser.add_argument("--worker-death", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.epochs = 2000, 2
    quiet()
    from distributed import Client, LocalCluster

    run, n_fits = make_search(args.rows, args.epochs, args.quick)
    print(f"machine: {describe_machine(machine())}")
    print(f"versions: {describe_versions(versions('joblib', 'dask', 'distributed'))}")
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if args.worker_death:
        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            return worker_deaths(args.worker_death, client)
    print(
        f"search: {n_fits} fits (GroupKFold(3) by artist), {args.rows} rows, "
        f"{args.epochs} epochs per fit"
    )

    limits = {"serial": [warm_up()[1]]}
    times, searches = {}, {}
    times["serial"], searches["serial"] = run(n_jobs=1)

    start = time.perf_counter()
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = Client(cluster)
    startup = time.perf_counter() - start
    try:
        limits["dask"] = [v[1] for v in client.run(warm_up).values()]
        with joblib.parallel_config(backend="dask"):
            times["dask"], searches["dask"] = run()
    finally:
        client.close()
        cluster.close()

    with joblib.parallel_config(backend="loky", n_jobs=2):
        found = joblib.Parallel()(joblib.delayed(warm_up)() for _ in range(4))
        limits["loky"] = list(dict(found).values())
        times["loky"], searches["loky"] = run()

    reference = searches["serial"].cv_results_["mean_test_score"]
    print(f"\ndask cluster start (2 workers x 1 thread): {startup:.1f} s")
    print(f"{'run':<8}{'wall time':>11}{'/ serial':>10}  scores equal to serial")
    for name, seconds in times.items():
        same = np.array_equal(searches[name].cv_results_["mean_test_score"], reference)
        print(
            f"{name:<8}{seconds:>9.1f} s{seconds / times['serial']:>10.2f}  "
            f"{'yes' if same else 'NO'}"
        )
    print("\nthread limits seen in each process (after a fit):")
    for name, found in limits.items():
        for entry in found:
            print(f"  {name:<7}{entry}")
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    identical = all(
        np.array_equal(s.cv_results_["mean_test_score"], reference)
        for s in searches.values()
    )
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
