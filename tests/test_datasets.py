"""Tests for the bundled data sets in ``sknormnet.datasets``."""

import gzip
import hashlib
import sys
from importlib.resources import files

import numpy as np
import pytest
from sklearn.utils import Bunch

from sknormnet.datasets import load_concrete, load_red_wine, load_spotify

pd = pytest.importorskip("pandas")

RED_WINE_FEATURES = [
    "fixed acidity",
    "volatile acidity",
    "citric acid",
    "residual sugar",
    "chlorides",
    "free sulfur dioxide",
    "total sulfur dioxide",
    "density",
    "pH",
    "sulphates",
    "alcohol",
]
CONCRETE_FEATURES = [
    "Cement",
    "BlastFurnaceSlag",
    "FlyAsh",
    "Water",
    "Superplasticizer",
    "CoarseAggregate",
    "FineAggregate",
    "Age",
]
SPOTIFY_COLUMNS = [
    "track_id",
    "track_name",
    "track_artist",
    "track_popularity",
    "track_album_id",
    "track_album_name",
    "track_album_release_date",
    "playlist_name",
    "playlist_id",
    "playlist_genre",
    "playlist_subgenre",
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "duration_ms",
]
SPOTIFY_AUDIO = SPOTIFY_COLUMNS[11:]
BUNCH_KEYS = {"data", "target", "frame", "feature_names", "target_names", "DESCR"}

# (prefix, suffix) of the sha256 digests listed in the data README.
SHA256 = {
    "red-wine.csv": ("f94ba76e", "1a303"),
    "concrete.csv": ("7a9348d2", "a4c00"),
    "spotify.csv": ("9902920c", "b16845"),
}

NUMERIC_LOADERS = [
    pytest.param(load_red_wine, (1599, 11), "quality", RED_WINE_FEATURES, id="wine"),
    pytest.param(
        load_concrete, (1030, 8), "CompressiveStrength", CONCRETE_FEATURES, id="concr"
    ),
]


def _shipped_bytes(name):
    return (files("sknormnet.datasets") / "data" / name).read_bytes()


@pytest.fixture(scope="module")
def spotify():
    return load_spotify(as_frame=True)


# --- file integrity -----------------------------------------------------------


@pytest.mark.parametrize("name", ["red-wine.csv", "concrete.csv"])
def test_data_files_sha256_matches_readme(name):
    digest = hashlib.sha256(_shipped_bytes(name)).hexdigest()
    prefix, suffix = SHA256[name]
    assert digest.startswith(prefix)
    assert digest.endswith(suffix)


def test_data_files_spotify_decompressed_sha256_matches_readme():
    raw = gzip.decompress(_shipped_bytes("spotify.csv.gz"))
    digest = hashlib.sha256(raw).hexdigest()
    prefix, suffix = SHA256["spotify.csv"]
    assert digest.startswith(prefix)
    assert digest.endswith(suffix)


# --- red wine and concrete ----------------------------------------------------


@pytest.mark.parametrize(("loader", "shape", "target", "features"), NUMERIC_LOADERS)
def test_numeric_loaders_bunch_arrays(loader, shape, target, features):
    bunch = loader()
    assert isinstance(bunch, Bunch)
    assert set(bunch.keys()) == BUNCH_KEYS
    assert isinstance(bunch.data, np.ndarray)
    assert isinstance(bunch.target, np.ndarray)
    assert bunch.data.dtype == np.float64
    assert bunch.target.dtype == np.float64
    assert bunch.data.shape == shape
    assert bunch.target.shape == (shape[0],)
    assert bunch.feature_names == features
    assert bunch.target_names == [target]
    assert bunch.frame is None
    assert np.isfinite(bunch.data).all()


@pytest.mark.parametrize(("loader", "shape", "target", "features"), NUMERIC_LOADERS)
def test_numeric_loaders_as_frame(loader, shape, target, features):
    bunch = loader(as_frame=True)
    assert set(bunch.keys()) == BUNCH_KEYS
    assert isinstance(bunch.data, pd.DataFrame)
    assert isinstance(bunch.target, pd.Series)
    assert isinstance(bunch.frame, pd.DataFrame)
    assert list(bunch.data.columns) == features
    assert bunch.target.name == target
    assert bunch.frame.shape == (shape[0], shape[1] + 1)
    assert list(bunch.frame.columns) == [*features, target]
    assert bunch.data.shape == shape


@pytest.mark.parametrize(("loader", "shape", "target", "features"), NUMERIC_LOADERS)
def test_numeric_loaders_frame_matches_array(loader, shape, target, features):
    arrays = loader()
    frames = loader(as_frame=True)
    np.testing.assert_array_equal(frames.data.to_numpy(np.float64), arrays.data)
    np.testing.assert_array_equal(frames.target.to_numpy(np.float64), arrays.target)


@pytest.mark.parametrize("as_frame", [False, True])
@pytest.mark.parametrize(("loader", "shape", "target", "features"), NUMERIC_LOADERS)
def test_numeric_loaders_return_X_y(loader, shape, target, features, as_frame):
    result = loader(return_X_y=True, as_frame=as_frame)
    assert isinstance(result, tuple)
    X, y = result
    assert X.shape == shape
    assert y.shape == (shape[0],)
    if as_frame:
        assert isinstance(X, pd.DataFrame)
        assert isinstance(y, pd.Series)
        assert y.name == target
    else:
        assert isinstance(X, np.ndarray)
        assert isinstance(y, np.ndarray)


def test_red_wine_quality_range_and_dtype():
    y = load_red_wine(as_frame=True).target
    assert y.dtype == np.int64
    assert (y.min(), y.max()) == (3, 8)
    assert y.value_counts().to_dict() == {5: 681, 6: 638, 7: 199, 4: 53, 8: 18, 3: 10}


def test_red_wine_first_row_values():
    X, y = load_red_wine(return_X_y=True)
    np.testing.assert_array_equal(
        X[0], [7.4, 0.7, 0.0, 1.9, 0.076, 11.0, 34.0, 0.9978, 3.51, 0.56, 9.4]
    )
    assert y[0] == 5.0


def test_red_wine_duplicates_kept():
    frame = load_red_wine(as_frame=True).frame
    assert int(frame.duplicated().sum()) == 240


def test_concrete_target_range_and_age_dtype():
    bunch = load_concrete(as_frame=True)
    assert bunch.frame["Age"].dtype == np.int64
    assert bunch.target.dtype == np.float64
    assert bunch.target.min() == pytest.approx(2.33)
    assert bunch.target.max() == pytest.approx(82.6)
    assert bunch.data["Age"].between(1, 365).all()


def test_concrete_first_row_values():
    X, y = load_concrete(return_X_y=True)
    np.testing.assert_array_equal(
        X[0], [540.0, 0.0, 0.0, 162.0, 2.5, 1040.0, 676.0, 28.0]
    )
    assert y[0] == 79.99


def test_concrete_duplicates_kept():
    frame = load_concrete(as_frame=True).frame
    assert int(frame.duplicated().sum()) == 25


# --- spotify ------------------------------------------------------------------


def test_spotify_bunch_shapes_and_columns(spotify):
    assert isinstance(spotify, Bunch)
    assert set(spotify.keys()) == BUNCH_KEYS
    assert isinstance(spotify.data, pd.DataFrame)
    assert isinstance(spotify.target, pd.Series)
    assert spotify.frame.shape == (32833, 23)
    assert list(spotify.frame.columns) == SPOTIFY_COLUMNS
    assert spotify.data.shape == (32833, 22)
    expected_features = [c for c in SPOTIFY_COLUMNS if c != "track_popularity"]
    assert spotify.feature_names == expected_features
    assert list(spotify.data.columns) == expected_features
    assert spotify.target_names == ["track_popularity"]
    assert spotify.target.name == "track_popularity"


def test_spotify_popularity_range_kept_unscaled(spotify):
    y = spotify.target
    assert y.dtype == np.int64
    assert (y.min(), y.max()) == (0, 100)


def test_spotify_dtypes_numeric_audio_and_text(spotify):
    frame = spotify.frame
    for col in SPOTIFY_AUDIO:
        assert frame[col].dtype in (np.float64, np.int64), col
    for col in ("key", "mode", "duration_ms"):
        assert frame[col].dtype == np.int64, col
    for col in SPOTIFY_COLUMNS[:11]:
        if col == "track_popularity":
            continue
        assert pd.api.types.is_string_dtype(frame[col].dtype), col
        assert not pd.api.types.is_numeric_dtype(frame[col].dtype), col


def test_spotify_release_date_stays_string(spotify):
    dates = spotify.data["track_album_release_date"]
    assert not pd.api.types.is_datetime64_any_dtype(dates.dtype)
    assert dates.iloc[0] == "2019-06-14"
    assert set(dates.str.len().unique()) == {4, 7, 10}


def test_spotify_missing_names_load_as_nan(spotify):
    data = spotify.data
    missing = data[["track_name", "track_artist", "track_album_name"]].isna()
    assert missing.sum().to_dict() == {
        "track_name": 5,
        "track_artist": 5,
        "track_album_name": 5,
    }
    # The same five rows miss all three; nothing else is missing.
    assert missing.all(axis=1).sum() == 5
    assert int(spotify.frame.isna().sum().sum()) == 15
    assert len(spotify.frame.dropna()) == 32833 - 5


def test_spotify_tracks_repeat_across_playlists(spotify):
    data = spotify.data
    assert data["track_id"].nunique() == 28356
    assert int(spotify.frame.duplicated().sum()) == 0
    assert data["playlist_genre"].nunique() == 6


def test_spotify_return_X_y(spotify):
    X, y = load_spotify(return_X_y=True, as_frame=True)
    assert isinstance(X, pd.DataFrame)
    assert isinstance(y, pd.Series)
    assert X.shape == (32833, 22)
    assert "track_popularity" not in X.columns
    pd.testing.assert_series_equal(y, spotify.target)


@pytest.mark.parametrize("return_X_y", [False, True])
def test_spotify_as_frame_false_raises(return_X_y):
    with pytest.raises(ValueError, match="as_frame=True"):
        load_spotify(return_X_y=return_X_y, as_frame=False)


# --- without pandas -----------------------------------------------------------


def test_numeric_loaders_arrays_work_without_pandas(monkeypatch):
    # A None entry in sys.modules makes ``import pandas`` raise ImportError.
    monkeypatch.setitem(sys.modules, "pandas", None)
    X, y = load_red_wine(return_X_y=True)
    assert X.shape == (1599, 11)
    assert y.dtype == np.float64
    assert load_concrete().data.shape == (1030, 8)


@pytest.mark.parametrize(
    ("loader", "kwargs"),
    [
        (load_red_wine, {"as_frame": True}),
        (load_concrete, {"as_frame": True}),
        (load_spotify, {"as_frame": True}),
    ],
    ids=["wine", "concrete", "spotify"],
)
def test_loaders_without_pandas_raise_import_error(monkeypatch, loader, kwargs):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        loader(**kwargs)


# --- descriptions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("loader", "kwargs", "needles"),
    [
        (load_red_wine, {}, ["1599", "quality", "Cortez", "CC BY 4.0", "240"]),
        (
            load_concrete,
            {},
            ["1030", "CompressiveStrength", "I-Cheng Yeh", "CC BY 4.0", "25"],
        ),
        (
            load_spotify,
            {"as_frame": True},
            [
                "32833",
                "track_popularity",
                "TidyTuesday",
                "spotifyr",
                "belong to Spotify",
                "track_artist",
            ],
        ),
    ],
    ids=["wine", "concrete", "spotify"],
)
def test_descr_mentions_source_and_licence(loader, kwargs, needles):
    descr = loader(**kwargs).DESCR
    assert isinstance(descr, str)
    for needle in needles:
        assert needle in descr, needle


def test_descr_files_shipped():
    descr_dir = files("sknormnet.datasets") / "descr"
    names = {entry.name for entry in descr_dir.iterdir()}
    assert {"red_wine.rst", "concrete.rst", "spotify.rst"} <= names
