"""Why the TensorFlow engine runs small networks on one intra-op thread.

``python benchmarks/intra_threads.py`` times the steady epoch (wall clock,
batches of 256 unless the network says otherwise) of a few networks on the
TensorFlow engine twice: with the runner's session on one intra-op thread,
and with the session's intra-op pool as large as the thread limit (all the
CPUs this process may use). Each figure is the best of ``--repeats``
differences between a fit of 1 + ``--epochs`` epochs and one of 1 epoch.
The engine picks one thread for networks of at most
``_engine_tensorflow.SMALL_NETWORK_WEIGHTS`` Dense weights; the table shows
where the two settings cross.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_BACKEND"] = "tensorflow"

NETWORKS = (
    {"hidden_layer_sizes": (128, 64)},
    {"hidden_layer_sizes": (256, 256), "batch_size": 512},
    {"hidden_layer_sizes": (512, 512, 512)},
    {"hidden_layer_sizes": (1024, 1024, 1024)},
)


def epoch_seconds(make, X, y, epochs: int, repeats: int) -> float:
    """Best wall time per epoch of ``make(n).fit(X, y)``, fixed costs cancelled."""

    def wall(n):
        start = time.perf_counter()
        make(n).fit(X, y)
        return time.perf_counter() - start

    wall(1)  # build the runner
    return min((wall(1 + epochs) - wall(1)) / epochs for _ in range(repeats))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from run import PARAMS, make_data
    from sklearn.exceptions import ConvergenceWarning

    from sknormnet import NormNetRegressor, _engine_tensorflow, _engines

    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = make_data(args.rows, 20)
    chosen = _engine_tensorflow.SMALL_NETWORK_WEIGHTS
    print(
        f"# steady epoch (s), {args.rows:,} x 20, TensorFlow engine, "
        f"{len(os.sched_getaffinity(0))} CPUs; the engine's threshold: "
        f"{chosen:,} weights"
    )
    print(
        "| network | batch | Dense weights | one thread | all threads | "
        "one / all | engine picks |\n|---|---|---|---|---|---|---|"
    )
    for change in NETWORKS:
        params = {**PARAMS, **change}
        times = {}
        for name, threshold in (("one", 1 << 62), ("all", -1)):
            _engine_tensorflow.SMALL_NETWORK_WEIGHTS = threshold
            _engines.clear()  # a runner (and session) per setting

            def make(n, params=params):
                return NormNetRegressor(max_iter=n, **params)

            times[name] = epoch_seconds(make, X, y, args.epochs, args.repeats)
        _engine_tensorflow.SMALL_NETWORK_WEIGHTS = chosen
        sizes = (20, *params["hidden_layer_sizes"], 1)
        weights = sum(a * b for a, b in itertools.pairwise(sizes))
        picks = "one" if weights <= chosen else "all"
        print(
            f"| {'-'.join(map(str, params['hidden_layer_sizes']))} | "
            f"{params['batch_size']} | {weights:,} | {times['one']:.3f} | "
            f"{times['all']:.3f} | {times['one'] / times['all']:.2f} | {picks} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
