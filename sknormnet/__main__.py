"""``python -m sknormnet``: the dropout / batchnorm lesson's examples on the bundled data.

Runs the lesson's three recipes with sknormnet's parameters and prints, for
each, the epochs run and the best validation MAE (the lesson's figure):

- concrete: 3 x Dense(512), plain SGD, MAE, unscaled features, without
  batchnorm (diverges) and with batchnorm in front of every Dense layer;
- red wine: 3 x Dense(1024) + Dropout(0.3) + batchnorm after each block;
- Spotify: ColumnTransformer, GroupShuffleSplit by artist, 128-64 + Dropout,
  and a small grid search over dropout_rate x batchnorm with grouped folds.

Then, on the same splits, the documentation's recommended settings
(``RECOMMENDED``: two layers of 256, dropout, AdamW, a learning rate of
0.003, early stopping on the validation data with a long patience), with
what each data set needs (``--example``; skipped by ``--lesson-only``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before Keras loads TensorFlow

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from . import NormNetRegressor
from .datasets import load_concrete, load_red_wine, load_spotify

SPOTIFY_FEATURES = [
    "danceability", "energy", "key", "loudness", "mode", "speechiness",
    "acousticness", "instrumentalness", "liveness", "valence", "tempo",
    "duration_ms",
]  # fmt: skip


def lesson_split(frame, seed=0):
    """The lesson's 70/30 split: ``frame.sample(frac=0.7, random_state=0)``."""
    train = frame.sample(frac=0.7, random_state=seed)
    return train, frame.drop(train.index)


# The recommended settings (docs/user_guide.rst, "Recommended settings"),
# trained on the lesson's loss: early stopping on the validation data, with
# tol=0 and a patience in epochs that grows as the data set shrinks.
RECOMMENDED = dict(
    hidden_layer_sizes=(256, 256), dropout_rate=0.1, solver="adamw", alpha=0.01,
    learning_rate_init=3e-3, early_stopping=True, tol=0.0, loss="absolute_error",
    weight_averaging=0.0,
)  # fmt: skip


def recommended(quick: bool, max_iter: int, **params) -> NormNetRegressor:
    """A regressor with the recommended settings (short with ``quick``)."""
    settings = {**RECOMMENDED, "max_iter": max_iter, **params}
    if quick:
        settings.update(hidden_layer_sizes=(32, 32), max_iter=5)
    return NormNetRegressor(random_state=0, **settings)


def fixed_epochs(max_iter: int, **params) -> NormNetRegressor:
    """A regressor that runs exactly ``max_iter`` epochs, as a Keras recipe does."""
    return NormNetRegressor(
        max_iter=max_iter,
        n_iter_no_change=max_iter,
        alpha=0.0,
        weight_averaging=0.0,  # each epoch's own weights, as in Keras
        **params,
    )


def fit_recipe(name, estimator, X, y, X_val, y_val):
    start = time.perf_counter()
    try:
        estimator.fit(X, y, X_val=X_val, y_val=y_val)
    except ValueError as exc:
        message = str(exc).split(":")[0]
        return {"recipe": name, "epochs": "-", "best_val_mae": "NaN", "note": message}
    curve = estimator.history_["val_loss"]
    return {
        "recipe": name,
        "epochs": estimator.n_iter_,
        "best_val_mae": f"{min(curve):.4f}",
        "note": f"{time.perf_counter() - start:.1f}s",
        "estimator": estimator,
    }


def run_concrete(epochs, quick, verbose, lesson_only):
    frame = load_concrete(as_frame=True).frame
    train, valid = lesson_split(frame)
    target = "CompressiveStrength"
    X, y = train.drop(columns=target), train[target]
    X_val, y_val = valid.drop(columns=target), valid[target]
    recipe = dict(
        hidden_layer_sizes=(512, 512, 512), dropout_rate=0.0, solver="sgd",
        momentum=0.0,
        learning_rate_init=0.01, loss="absolute_error", batch_size=64,
        random_state=0, verbose=verbose,
    )  # fmt: skip
    if quick:
        recipe["hidden_layer_sizes"] = (64, 64, 64)
    rows = [
        fit_recipe("concrete, SGD, no batchnorm", fixed_epochs(epochs, **recipe),
                   X, y, X_val, y_val),
        fit_recipe("concrete, SGD, batchnorm='before_dense'",
                   fixed_epochs(epochs, batchnorm="before_dense", **recipe),
                   X, y, X_val, y_val),
    ]  # fmt: skip
    if lesson_only:
        return rows
    scaler = StandardScaler().fit(X)
    network = recommended(quick, 1000, batch_size=64, n_iter_no_change=100,
                          verbose=verbose)  # fmt: skip
    rows.append(fit_recipe("concrete, recommended (StandardScaler)", network,
                           scaler.transform(X), y, scaler.transform(X_val), y_val))  # fmt: skip
    return rows


def run_red_wine(epochs, quick, verbose, lesson_only):
    frame = load_red_wine(as_frame=True).frame
    train, valid = lesson_split(frame)
    X, y = train.drop(columns="quality"), train["quality"]
    X_val, y_val = valid.drop(columns="quality"), valid["quality"]
    width = 64 if quick else 1024
    estimator = fixed_epochs(
        epochs, hidden_layer_sizes=(width,) * 3, dropout_rate=0.3,
        batchnorm="after_activation", loss="absolute_error", batch_size=256,
        random_state=0, verbose=verbose,
    )  # fmt: skip
    rows = [fit_recipe("red wine, dropout + batchnorm", estimator, X, y, X_val, y_val)]
    if lesson_only:
        return rows
    network = recommended(quick, 400, batchnorm="input", batch_size=64,
                          n_iter_no_change=50, verbose=verbose)  # fmt: skip
    rows.append(fit_recipe("red wine, recommended (batchnorm='input')", network,
                           X, y, X_val, y_val))  # fmt: skip
    return rows


def run_spotify(epochs, quick, verbose, lesson_only):
    from sklearn.compose import make_column_transformer
    from sklearn.model_selection import GridSearchCV, GroupKFold, GroupShuffleSplit
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    frame = load_spotify(as_frame=True).frame.dropna()
    if quick:
        frame = frame.sample(n=4000, random_state=0)
    X = frame[[*SPOTIFY_FEATURES, "playlist_genre"]]
    y = frame["track_popularity"] / 100
    artists = frame["track_artist"]
    train, valid = next(
        GroupShuffleSplit(train_size=0.75, random_state=0).split(X, y, artists)
    )
    prep = make_column_transformer(
        (StandardScaler(), SPOTIFY_FEATURES), (OneHotEncoder(), ["playlist_genre"])
    )
    X_train = prep.fit_transform(X.iloc[train])
    X_valid = prep.transform(X.iloc[valid])
    recipe = dict(
        hidden_layer_sizes=(128, 64), dropout_rate=0.3, loss="absolute_error",
        batch_size=512, random_state=0, verbose=verbose,
    )  # fmt: skip
    rows = [
        fit_recipe(
            "spotify, 128-64 + dropout 0.3", fixed_epochs(epochs, **recipe),
            X_train, y.iloc[train], X_valid, y.iloc[valid],
        )
    ]  # fmt: skip

    search_epochs = max(2, epochs // 5)
    pipe = make_pipeline(prep, fixed_epochs(search_epochs, **{**recipe, "verbose": 0}))
    grid = {
        "normnetregressor__dropout_rate": [0.0, 0.3],
        "normnetregressor__batchnorm": [None, "before_activation"],
    }
    search = GridSearchCV(
        pipe, grid, cv=GroupKFold(n_splits=3), scoring="neg_mean_absolute_error"
    )
    start = time.perf_counter()
    search.fit(X.iloc[train], y.iloc[train], groups=artists.iloc[train])
    print(f"\nGrid search ({search_epochs} epochs per fit, GroupKFold by artist):")
    for params, score in zip(
        search.cv_results_["params"],
        search.cv_results_["mean_test_score"],
        strict=True,
    ):
        short = {k.split("__")[1]: v for k, v in params.items()}
        print(f"  {short}  mean CV MAE {-score:.4f}")
    best_mae = -search.score(X.iloc[valid], y.iloc[valid])
    rows.append(
        {
            "recipe": f"spotify, grid search best {search.best_params_}".replace(
                "normnetregressor__", ""
            ),
            "epochs": search_epochs,
            "best_val_mae": f"{best_mae:.4f}",
            "note": f"{time.perf_counter() - start:.1f}s",
        }
    )
    if lesson_only:
        return rows
    # Every informative column, the same split: the release year (from the
    # date), the subgenre and the playlist, one-hot.
    more = make_column_transformer(
        (StandardScaler(), SPOTIFY_FEATURES),
        (make_pipeline(FunctionTransformer(release_year), StandardScaler()),
         ["track_album_release_date"]),
        (OneHotEncoder(handle_unknown="ignore"),
         ["playlist_genre", "playlist_subgenre", "playlist_name"]),
    )  # fmt: skip
    columns = [*SPOTIFY_FEATURES, "track_album_release_date", "playlist_genre",
               "playlist_subgenre", "playlist_name"]  # fmt: skip
    X_more = frame[columns]
    X_train = more.fit_transform(X_more.iloc[train])
    X_valid = more.transform(X_more.iloc[valid])
    network = recommended(quick, 150, dropout_rate=0.3, alpha=0.1, batch_size=512,
                          n_iter_no_change=20, verbose=verbose)  # fmt: skip
    rows.append(fit_recipe(
        "spotify, recommended (+ year, subgenre, playlist)", network,
        X_train, y.iloc[train], X_valid, y.iloc[valid],
    ))  # fmt: skip
    return rows


def release_year(frame) -> np.ndarray:
    """'2019-06-14' (or '2019') -> 2019.0, as a column."""
    dates = frame.iloc[:, 0].astype(str).str[:4].astype(float)
    return dates.to_numpy().reshape(-1, 1)


EXAMPLES = {
    "concrete": (run_concrete, 100, "lesson: diverges / 4.107"),
    "wine": (run_red_wine, 100, "lesson rerun: 0.553"),
    "spotify": (run_spotify, 50, "lesson: 0.1985"),
}


def plot_curves(rows, output):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib is not installed: no learning-curve PNGs written)")
        return
    os.makedirs(output, exist_ok=True)
    for row in rows:
        estimator = row.get("estimator")
        if estimator is None:
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        epochs = np.arange(1, len(estimator.loss_curve_) + 1)
        ax.plot(epochs, estimator.history_["loss"], label="training loss")
        ax.plot(epochs, estimator.history_["val_loss"], label="validation MAE")
        ax.set_xlabel("epoch")
        ax.set_ylabel("mean absolute error")
        ax.set_title(row["recipe"])
        ax.legend()
        fig.tight_layout()
        name = "".join(c if c.isalnum() else "_" for c in row["recipe"]).strip("_")
        path = os.path.join(output, f"{name}.png")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        print(f"wrote {path}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sknormnet",
        description="Run the dropout / batch-normalization lesson's examples "
        "on the bundled data sets and print the best validation MAE of each.",
    )
    parser.add_argument(
        "--example", choices=[*EXAMPLES, "all"], default="all",
        help="which example to run (default: all)",
    )  # fmt: skip
    parser.add_argument(
        "--epochs", type=int, default=None,
        help="epochs per fit (default: the lesson's: 100 concrete and wine, 50 Spotify)",
    )  # fmt: skip
    parser.add_argument(
        "--output", default="sknormnet-output",
        help="folder for the learning-curve PNGs (default: sknormnet-output)",
    )  # fmt: skip
    parser.add_argument(
        "--quick", action="store_true",
        help="small nets, few epochs, a Spotify subsample: a smoke test",
    )  # fmt: skip
    parser.add_argument("--verbose", action="store_true", help="one line per epoch")
    parser.add_argument(
        "--lesson-only", action="store_true",
        help="the lesson's recipes only, not the recommended settings",
    )  # fmt: skip
    args = parser.parse_args(argv)

    names = list(EXAMPLES) if args.example == "all" else [args.example]
    rows = []
    for name in names:
        run, default_epochs, reference = EXAMPLES[name]
        epochs = args.epochs or (5 if args.quick else default_epochs)
        print(f"== {name} ({epochs} epochs; {reference})", flush=True)
        with warnings.catch_warnings():
            # fixed-epoch recipes end at max_iter by design
            warnings.simplefilter("ignore", ConvergenceWarning)
            new_rows = run(epochs, args.quick, int(args.verbose), args.lesson_only)
        for row in new_rows:
            print(f"   {row['recipe']}: best val MAE {row['best_val_mae']} "
                  f"({row['epochs']} epochs; {row['note']})", flush=True)  # fmt: skip
        rows.extend(new_rows)

    print("\n| recipe | epochs | best validation MAE | note |")
    print("|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['recipe']} | {row['epochs']} | {row['best_val_mae']} | {row['note']} |"
        )
    plot_curves(rows, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
