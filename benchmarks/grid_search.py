"""Time the Spotify grid search: ColumnTransformer + a network, GroupKFold by artist.

``python benchmarks/grid_search.py --impl sknormnet --n-jobs 2`` prints one
JSON line: the wall time of the whole search (``GridSearchCV.fit``, refit
included), once with new worker processes ("cold") and once more reusing
them ("warm"; joblib keeps its workers between calls). Keras (and scikeras)
are imported before the clock starts: an import is paid once per process,
not per search (the workers of ``n_jobs=2`` import it inside the first
search, as they would in any session). ``--impl scikeras``
runs the same grid with scikeras' ``KerasRegressor`` on the same network
(benchmark only: scikeras is not a dependency of sknormnet, and it changes
Keras when imported, so ``run.py`` runs each configuration in its own
process).

The pipeline is the lesson's: standard-scaled audio features and a one-hot
genre, a 128-64 network with mean absolute error and batches of 512, a 2 x 2
grid over ``dropout_rate`` (0, 0.3) and ``batchnorm`` (None,
'before_activation'), 3 grouped folds, on the training part (75 %, grouped by
artist) of the complete rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FEATURES = [
    "danceability", "energy", "key", "loudness", "mode", "speechiness",
    "acousticness", "instrumentalness", "liveness", "valence", "tempo",
    "duration_ms",
]  # fmt: skip
DROPOUT_RATES = [0.0, 0.3]
BATCHNORMS = [None, "before_activation"]
BATCH = 512


def spotify(n_rows: int | None):
    from sklearn.model_selection import GroupShuffleSplit

    from sknormnet.datasets import load_spotify

    frame = load_spotify(as_frame=True).frame.dropna()
    if n_rows is not None:
        frame = frame.sample(n=n_rows, random_state=0)
    X = frame[[*FEATURES, "playlist_genre"]]
    y = frame["track_popularity"] / 100
    artists = frame["track_artist"]
    train, _ = next(
        GroupShuffleSplit(train_size=0.75, random_state=0).split(X, y, artists)
    )
    return X.iloc[train], y.iloc[train], artists.iloc[train]


def preprocessor():
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return make_column_transformer(
        (StandardScaler(), FEATURES), (OneHotEncoder(), ["playlist_genre"])
    )


def sknormnet_search(epochs: int, n_jobs: int):
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline

    from sknormnet import NormNetRegressor

    # the scikeras network's training: Adam at 1e-3, every epoch, no holdout
    network = NormNetRegressor(
        hidden_layer_sizes=(128, 64),
        loss="absolute_error",
        batch_size=BATCH,
        learning_rate_init=1e-3,
        early_stopping=False,
        max_iter=epochs,
        n_iter_no_change=epochs,
        alpha=0.0,
        random_state=0,
    )
    grid = {
        "normnetregressor__dropout_rate": DROPOUT_RATES,
        "normnetregressor__batchnorm": BATCHNORMS,
    }
    return GridSearchCV(
        make_pipeline(preprocessor(), network),
        grid,
        cv=GroupKFold(n_splits=3),
        scoring="neg_mean_absolute_error",
        n_jobs=n_jobs,
    )


def keras_network(meta, dropout_rate=0.0, batchnorm=None):
    """The network NormNetRegressor builds for these parameters, in plain Keras."""
    import keras

    layers = [keras.Input((meta["n_features_in_"],))]
    for units in (128, 64):
        if batchnorm == "before_activation":
            layers += [
                keras.layers.Dense(units, use_bias=False),
                keras.layers.BatchNormalization(scale=False),
                keras.layers.Activation("relu"),
            ]
        else:
            layers.append(keras.layers.Dense(units, activation="relu"))
        if dropout_rate > 0:
            layers.append(keras.layers.Dropout(dropout_rate))
    layers.append(keras.layers.Dense(1))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mae")
    return model


def scikeras_search(epochs: int, n_jobs: int):
    from scikeras.wrappers import KerasRegressor
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline

    network = KerasRegressor(
        model=keras_network,
        batch_size=BATCH,
        epochs=epochs,
        verbose=0,
        random_state=0,
        model__dropout_rate=0.0,
        model__batchnorm=None,
    )
    grid = {
        "kerasregressor__model__dropout_rate": DROPOUT_RATES,
        "kerasregressor__model__batchnorm": BATCHNORMS,
    }
    return GridSearchCV(
        make_pipeline(preprocessor(), network),
        grid,
        cv=GroupKFold(n_splits=3),
        scoring="neg_mean_absolute_error",
        n_jobs=n_jobs,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--impl", choices=["sknormnet", "scikeras"], default="sknormnet"
    )
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rows", type=int, default=None, help="subsample (all rows)")
    parser.add_argument("--runs", type=int, default=2, help="searches in a row")
    args = parser.parse_args(argv)

    from sklearn.exceptions import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)
    # joblib's workers inherit this filter through the environment
    os.environ["PYTHONWARNINGS"] = "ignore::sklearn.exceptions.ConvergenceWarning"
    X, y, groups = spotify(args.rows)
    import keras  # noqa: F401 - the import is not part of the search

    if args.impl == "scikeras":
        import scikeras.wrappers  # noqa: F401
    make = sknormnet_search if args.impl == "sknormnet" else scikeras_search
    seconds = []
    for _ in range(args.runs):
        search = make(args.epochs, args.n_jobs)
        start = time.perf_counter()
        search.fit(X, y, groups=groups)
        seconds.append(time.perf_counter() - start)
    result = {
        "impl": args.impl,
        "n_jobs": args.n_jobs,
        "epochs": args.epochs,
        "rows": len(X),
        "fits": 4 * 3 + 1,
        "seconds": seconds,
        "best_score": float(search.best_score_),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
