"""Before/after of the training paths: Keras' ``Model.fit`` against the engines.

``python benchmarks/optimizations.py`` times NormNetRegressor on each
installed backend in two variants, each in processes of its own, alternating
rounds so that a busy machine affects both alike:

- ``keras``: the generic path, Keras' own ``Model.fit`` on a model built for
  the fit (what a fit with callbacks, or on a backend without an engine,
  runs); forced here with a callback that does nothing;
- ``engine``: the backend's engine (``_engine_tensorflow``, ``_engine_jax``),
  what a fit without callbacks runs.

For each: a warm fit of the benchmark network on 1,600 x 11 for 20 epochs,
and the steady epoch on 30,000 x 20 (and 300,000 x 20 without ``--quick``).
It prints the best wall time and the best CPU time (user + system, all
threads) of each; CPU time is less sensitive to other work on the machine.
The OpenBLAS variables are left as they are: no NumPy peer is timed here.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VARIANTS = ("keras", "engine")
EPOCHS = 4  # timed epochs of the steady-epoch difference


def child(variant: str, quick: bool) -> dict:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import keras
    from run import PARAMS, make_data
    from sklearn.exceptions import ConvergenceWarning

    from sknormnet import NormNetRegressor

    warnings.simplefilter("ignore", ConvergenceWarning)
    callbacks = [keras.callbacks.Callback()] if variant == "keras" else None

    def fit(X, y, epochs):
        NormNetRegressor(
            max_iter=epochs, n_iter_no_change=epochs, callbacks=callbacks, **PARAMS
        ).fit(X, y)

    def clocks(fn):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        return time.perf_counter() - wall, time.process_time() - cpu

    out = {}
    X, y = make_data(1600, 11)
    fit(X, y, 20)
    runs = [clocks(lambda: fit(X, y, 20)) for _ in range(3)]
    out["fit 1,600 x 20 epochs"] = [min(r[0] for r in runs), min(r[1] for r in runs)]
    for rows in (30_000,) if quick else (30_000, 300_000):
        X, y = make_data(rows, 20)
        fit(X, y, 1)
        one = [clocks(lambda X=X, y=y: fit(X, y, 1)) for _ in range(2)]
        many = [clocks(lambda X=X, y=y: fit(X, y, 1 + EPOCHS)) for _ in range(2)]
        out[f"epoch {rows:,} x 20"] = [
            (min(m[i] for m in many) - min(o[i] for o in one)) / EPOCHS for i in (0, 1)
        ]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.variant:
        print(json.dumps(child(args.variant, args.quick)))
        return 0

    backends = [b for b in ("tensorflow", "jax") if importlib.util.find_spec(b)]
    for backend in backends:
        best: dict = {}
        for _ in range(args.rounds):
            for variant in VARIANTS:
                command = [sys.executable, __file__, "--variant", variant]
                result = subprocess.run(
                    command + (["--quick"] if args.quick else []),
                    env={**os.environ, "KERAS_BACKEND": backend},
                    capture_output=True,
                    text=True,
                    check=True,
                )
                figures = json.loads(result.stdout.strip().splitlines()[-1])
                for task, (wall, cpu) in figures.items():
                    old = best.setdefault(task, {}).get(variant, [wall, cpu])
                    best[task][variant] = [min(old[0], wall), min(old[1], cpu)]
        print(f"\n## {backend}")
        print("| task | " + " | ".join(VARIANTS) + " | engine / keras (wall) |")
        print("|---|" + "---|" * (len(VARIANTS) + 1))
        for task, by_variant in best.items():
            cells = [
                f"{by_variant[v][0]:.3f} s wall, {by_variant[v][1]:.3f} s CPU"
                for v in VARIANTS
            ]
            ratio = by_variant["engine"][0] / by_variant["keras"][0]
            print(f"| {task} | " + " | ".join(cells) + f" | {ratio:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
