"""Epoch time of networks split into members, against the unsplit network.

``python benchmarks/members.py`` (``KERAS_BACKEND`` picks the backend) times
one steady epoch (``run.py``'s ``epoch_seconds``: fixed costs cancelled) of
NormNetRegressor's default network, ``(256, 256)``, unsplit and split into
4 members, and of ``(512, 512)`` unsplit and split into 8 members (the
quality benchmark's ``members``), on one thread, and prints each time with
its ratio to the unsplit ``(256, 256)`` and its multiply-adds per row.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

for variable in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
    os.environ[variable] = "1"
os.environ["XLA_FLAGS"] = (
    "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from run import epoch_seconds, make_data  # noqa: E402

NETWORKS = [
    ("(256, 256)", (256, 256), 1),
    ("(256, 256), 4 members", (256, 256), 4),
    ("(512, 512)", (512, 512), 1),
    ("(512, 512), 8 members", (512, 512), 8),
]


def multiply_adds(n_features: int, sizes: tuple, members: int) -> int:
    """Per row: the first layer is whole, later layers are split."""
    total, width = n_features * sizes[0], sizes[0]
    for size in sizes[1:]:
        total += width * size // members
        width = size
    return total + width


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=40)
    args = parser.parse_args(argv)

    from sknormnet import NormNetRegressor

    X, y = make_data(args.rows, args.features)
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    print(f"backend {backend}, {args.rows:,} rows x {args.features} features, 1 thread")
    print("| network | epoch (s) | vs (256, 256) | multiply-adds per row |")
    print("|---|---|---|---|")
    reference = None
    for name, sizes, members in NETWORKS:

        def fit(epochs, sizes=sizes, members=members):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                NormNetRegressor(
                    hidden_layer_sizes=sizes,
                    n_members=members,
                    max_iter=epochs,
                    early_stopping=False,
                    n_iter_no_change=np.inf,
                    random_state=0,
                ).fit(X, y)

        seconds = epoch_seconds(fit, 4, 3)
        reference = reference or seconds
        print(
            f"| {name} | {seconds:.4f} | {seconds / reference:.2f}x | "
            f"{multiply_adds(args.features, sizes, members):,} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
