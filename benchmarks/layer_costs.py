"""What a training step's time goes to: the benchmark network with and without
its dropout and batch-normalization layers.

``python benchmarks/layer_costs.py`` times the steady epoch (30,000 x 20,
batches of 256) of ``run.PARAMS``'s network on the backend ``KERAS_BACKEND``
names, in four variants: as it is, without dropout, without batchnorm, and
without either (the network ``MLPRegressor(hidden_layer_sizes=(128, 64))``
trains). Each figure is the CPU time of one epoch, the best of ``--repeats``
differences between a fit of 1 + ``--epochs`` epochs and one of 1 epoch, with
one thread for the backend (set before it is imported), so that other work
on the machine changes the figures less than it changes wall time.
``MLPRegressor`` runs the same way as the reference (OpenBLAS variables
unset, printed).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

for _name in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
):
    os.environ[_name] = "1"
# read by OpenBLAS when NumPy loads it: unset before anything imports NumPy
OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_OPENBLAS = {name: os.environ.pop(name, None) for name in OPENBLAS_VARIABLES}
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

VARIANTS = {
    "dropout and batchnorm (the benchmark network)": {},
    "without dropout": {"dropout_rate": 0.0},
    "without batchnorm": {"batchnorm": None},
    "without either": {"dropout_rate": 0.0, "batchnorm": None},
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import keras
    from run import PARAMS, epoch_seconds, make_data
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    from sknormnet import NormNetRegressor

    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = make_data(args.rows, 20)
    steps = -(-args.rows // PARAMS["batch_size"])
    print(
        f"# steady epoch, {args.rows:,} x 20, {steps} steps of "
        f"{PARAMS['batch_size']}, one thread, {keras.backend.backend()}; "
        "OpenBLAS variables: "
        + ", ".join(
            f"{k} unset (was {v if v is not None else 'unset'})"
            for k, v in _OPENBLAS.items()
        )
    )
    print(
        "| network | CPU s / epoch | ms / step | vs MLPRegressor |\n|---|---|---|---|"
    )

    def mlp(n):
        MLPRegressor(
            hidden_layer_sizes=PARAMS["hidden_layer_sizes"],
            batch_size=PARAMS["batch_size"],
            max_iter=n,
            n_iter_no_change=n + 1,
            tol=0.0,
            alpha=0.0,
            random_state=0,
        ).fit(X, y)

    cpu = time.process_time
    reference = epoch_seconds(mlp, args.epochs, args.repeats, cpu)
    rows = []
    for name, change in VARIANTS.items():
        params = {**PARAMS, **change}

        def fit(n, params=params):
            NormNetRegressor(max_iter=n, **params).fit(X, y)

        rows.append((name, epoch_seconds(fit, args.epochs, args.repeats, cpu)))
    rows.append(("MLPRegressor (128, 64)", reference))
    for name, seconds in rows:
        print(
            f"| {name} | {seconds:.4f} | {1e3 * seconds / steps:.2f} | "
            f"{seconds / reference:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
