"""Prediction intervals on the concrete data: Monte-Carlo dropout against MAPIE.

``python benchmarks/intervals.py`` prints, for a few seeds, the empirical
coverage and the mean width on held-out rows of three intervals around the
same network, each next to the time it took to fit:

- ``MC dropout``: ``predict(X, return_std=True)``, mean ± 2·std (the nominal
  95.4 % of a normal distribution);
- ``split conformal``: MAPIE's ``SplitConformalRegressor`` at 95 %, the
  network trained on 80 % of the training rows and conformalized on the
  other 20 %;
- ``cross conformal``: MAPIE's ``CrossConformalRegressor`` at 95 % (CV+,
  5 folds: five fold networks and one on every training row), points
  averaged over the fold networks.

For every seed 25 % of the 1030 mixtures are held out (``train_test_split``
seeded with the seed), and the network is seeded with it too. The network,
in a Pipeline with StandardScaler::

    NormNetRegressor(hidden_layer_sizes=(256, 256), dropout_rate=0.1,
                     batchnorm="input", learning_rate_init=0.003,
                     batch_size=32, max_iter=200, early_stopping=True,
                     n_mc_samples=200, random_state=seed)

``--quick`` trains a (32, 32) network for at most 20 epochs (a smoke test,
not figures to quote); ``--seeds 0 1 2 3 4`` picks the seeds. Needs the
``intervals`` extra: ``pip install "sknormnet[intervals]"``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknormnet import NormNetRegressor
from sknormnet.datasets import load_concrete

CONFIDENCE = 0.95
METHODS = ("MC dropout (mean ± 2·std)", "split conformal 95 %", "cross conformal 95 %")


def make_model(seed: int, quick: bool):
    width, epochs = (32, 20) if quick else (256, 200)
    return make_pipeline(
        StandardScaler(),
        NormNetRegressor(
            hidden_layer_sizes=(width, width),
            dropout_rate=0.1,
            batchnorm="input",
            learning_rate_init=0.003,
            batch_size=32,
            max_iter=epochs,
            early_stopping=True,
            n_mc_samples=200,
            random_state=seed,
        ),
    )


def summarize(lower, upper, points, y):
    """Coverage, mean width and MAE of the points on the held-out rows."""
    return {
        "coverage": float(np.mean((lower <= y) & (y <= upper))),
        "width": float(np.mean(upper - lower)),
        "mae": float(np.mean(np.abs(points - y))),
    }


def run_seed(X, y, seed: int, quick: bool) -> dict[str, dict]:
    from mapie.regression import CrossConformalRegressor, SplitConformalRegressor

    X_fit, X_test, y_fit, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed
    )
    results = {}

    # (a) Monte-Carlo dropout on a network trained on every training row
    start = time.perf_counter()
    model = make_model(seed, quick).fit(X_fit, y_fit)
    fit_time = time.perf_counter() - start
    mean, std = model.predict(X_test, return_std=True)
    results[METHODS[0]] = {
        **summarize(mean - 2 * std, mean + 2 * std, mean, y_test),
        "fit_time": fit_time,
    }

    # (b) split conformal: train on 80 % of the rows, conformalize on 20 %
    X_train, X_cal, y_train, y_cal = train_test_split(
        X_fit, y_fit, test_size=0.2, random_state=seed
    )
    start = time.perf_counter()
    split = SplitConformalRegressor(
        make_model(seed, quick), confidence_level=CONFIDENCE, prefit=False
    )
    split.fit(X_train, y_train).conformalize(X_cal, y_cal)
    fit_time = time.perf_counter() - start
    points, intervals = split.predict_interval(X_test)
    results[METHODS[1]] = {
        **summarize(intervals[:, 0, 0], intervals[:, 1, 0], points, y_test),
        "fit_time": fit_time,
    }

    # (c) cross conformal (CV+), 5 folds
    start = time.perf_counter()
    cross = CrossConformalRegressor(
        make_model(seed, quick), confidence_level=CONFIDENCE, cv=5, random_state=seed
    )
    cross.fit_conformalize(X_fit, y_fit)
    fit_time = time.perf_counter() - start
    points, intervals = cross.predict_interval(X_test)
    results[METHODS[2]] = {
        **summarize(intervals[:, 0, 0], intervals[:, 1, 0], points, y_test),
        "fit_time": fit_time,
    }
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="smoke test")
    args = parser.parse_args(argv)

    import keras
    import mapie

    import sknormnet

    X, y = load_concrete(return_X_y=True)
    print(
        f"concrete: {X.shape[0]} rows, {X.shape[1]} features, strength in MPa; "
        f"25 % held out per seed; seeds {args.seeds}"
        + (" (--quick)" if args.quick else "")
    )
    print(
        f"sknormnet {sknormnet.__version__}, MAPIE {mapie.__version__}, "
        f"Keras {keras.__version__} ({keras.backend.backend()})"
    )
    header = (
        f"{'seed':>4}  {'interval':<26} {'coverage':>8} {'width':>7} "
        f"{'MAE':>6} {'fit (s)':>8}"
    )
    print()
    print(header)
    print("-" * len(header))
    rows = {method: [] for method in METHODS}
    for seed in args.seeds:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=ConvergenceWarning)
            results = run_seed(X, y, seed, args.quick)
        for method in METHODS:
            r = results[method]
            rows[method].append(r)
            print(
                f"{seed:>4}  {method:<26} {100 * r['coverage']:>6.1f} % {r['width']:>7.1f} "
                f"{r['mae']:>6.2f} {r['fit_time']:>8.1f}",
                flush=True,
            )

    print()
    print(f"mean over {len(args.seeds)} seeds (± standard deviation across seeds)")
    header = (
        f"{'interval':<26} {'coverage':>14} {'width (MPa)':>13} "
        f"{'MAE (MPa)':>12} {'fit (s)':>12}"
    )
    print(header)
    print("-" * len(header))
    for method in METHODS:
        cells = []
        for key, fmt, scale in (
            ("coverage", "{:.1f} %", 100),
            ("width", "{:.1f}", 1),
            ("mae", "{:.2f}", 1),
            ("fit_time", "{:.1f}", 1),
        ):
            values = scale * np.array([r[key] for r in rows[method]])
            spread = fmt.format(values.std()).replace(" %", "")
            cells.append(f"{fmt.format(values.mean())} ± {spread}")
        print(
            f"{method:<26} {cells[0]:>14} {cells[1]:>13} {cells[2]:>12} {cells[3]:>12}"
        )


if __name__ == "__main__":
    main()
