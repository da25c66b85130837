"""Loaders for the real data sets shipped inside ``sknormnet.datasets``.

The CSV files live in ``sknormnet/datasets/data`` and their descriptions in
``sknormnet/datasets/descr``; both are read through :mod:`importlib.resources`,
so the loaders work from a wheel, a zip import or a source checkout and never
touch the network.
"""

from __future__ import annotations

import csv
from importlib.resources import files

import numpy as np
from sklearn.utils import Bunch

_PACKAGE = "sknormnet.datasets"

_RED_WINE_TARGET = "quality"
_CONCRETE_TARGET = "CompressiveStrength"
_SPOTIFY_TARGET = "track_popularity"


def _resource(folder, name):
    """Return a Traversable for a file shipped in ``sknormnet.datasets/<folder>``."""
    return files(_PACKAGE) / folder / name


def _read_descr(name):
    return _resource("descr", name).read_text(encoding="utf-8")


def _import_pandas(caller, reason):
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs pandas {reason}; install it with `pip install pandas`."
        ) from exc
    return pd


def _read_numeric_csv(name):
    """Parse an all-numeric CSV with a header row into (column names, float64 array).

    Uses only the standard library and NumPy, so ``as_frame=False`` works
    without pandas.
    """
    lines = _resource("data", name).read_text(encoding="utf-8").splitlines()
    header = next(csv.reader(lines[:1]))
    values = np.loadtxt(lines[1:], delimiter=",", dtype=np.float64, ndmin=2)
    if values.shape[1] != len(header):  # pragma: no cover - guards the shipped file
        raise ValueError(
            f"{name}: header has {len(header)} columns but the rows have "
            f"{values.shape[1]}."
        )
    return header, values


def _load_numeric(name, target, descr, caller, *, return_X_y, as_frame):
    """Shared body of the loaders whose columns are all numeric."""
    if as_frame:
        pd = _import_pandas(caller, "for as_frame=True")
        with _resource("data", name).open("rb") as fh:
            frame = pd.read_csv(fh)
        feature_names = [str(col) for col in frame.columns if col != target]
        data = frame[feature_names]
        y = frame[target]
    else:
        header, values = _read_numeric_csv(name)
        col = header.index(target)
        feature_names = header[:col] + header[col + 1 :]
        data = np.ascontiguousarray(np.delete(values, col, axis=1))
        y = np.ascontiguousarray(values[:, col])
        frame = None

    if return_X_y:
        return data, y
    return Bunch(
        data=data,
        target=y,
        frame=frame,
        feature_names=feature_names,
        target_names=[target],
        DESCR=_read_descr(descr),
    )


def load_red_wine(*, return_X_y=False, as_frame=False):
    """Load the red Vinho Verde wine-quality data set (regression).

    1599 red wines described by 11 physicochemical measurements; the target
    ``quality`` is the median score (0-10 scale) given by wine tasters, and
    takes the values 3 to 8 in this data.

    =================   ==============================
    Samples total       1599
    Dimensionality      11
    Features            real, positive, unscaled
    Target              integer 3 - 8 (``quality``)
    =================   ==============================

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame and ``target`` a pandas
        Series, with the dtypes pandas reads from the CSV (all features
        float64, ``quality`` int64), and ``frame`` holds the whole table.
        Needs pandas. If False, ``data`` and ``target`` are float64 NumPy
        arrays and pandas is not needed.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : ndarray of shape (1599, 11) or DataFrame
            The feature matrix, in the file's column order.
        target : ndarray of shape (1599,) or Series
            The quality score.
        frame : DataFrame of shape (1599, 12) or None
            The full table (features and target) if ``as_frame=True``,
            otherwise None.
        feature_names : list of str
            The 11 feature column names, e.g. ``"fixed acidity"``.
        target_names : list of str
            ``["quality"]``.
        DESCR : str
            A description of the data set.

    (data, target) : tuple if ``return_X_y`` is True
        The two objects described above.

    Notes
    -----
    Source: P. Cortez, A. Cerdeira, F. Almeida, T. Matos, J. Reis, "Modeling
    wine preferences by data mining from physicochemical properties",
    Decision Support Systems 47(4), 2009. UCI Machine Learning Repository,
    CC BY 4.0.

    The file contains 240 exact duplicate rows; they are part of the
    original data and are kept. The features are not scaled.

    Examples
    --------
    >>> from sknormnet.datasets import load_red_wine
    >>> X, y = load_red_wine(return_X_y=True)
    >>> X.shape, y.shape
    ((1599, 11), (1599,))
    >>> float(y.min()), float(y.max())
    (3.0, 8.0)
    >>> load_red_wine().target_names
    ['quality']
    """
    return _load_numeric(
        "red-wine.csv",
        _RED_WINE_TARGET,
        "red_wine.rst",
        "load_red_wine",
        return_X_y=return_X_y,
        as_frame=as_frame,
    )


def load_concrete(*, return_X_y=False, as_frame=False):
    """Load the concrete compressive-strength data set (regression).

    1030 concrete mixtures described by the amounts of seven ingredients
    (kg per cubic metre of mix) and the age of the sample in days; the target
    ``CompressiveStrength`` is the measured strength in MPa (about 2.3 to
    82.6).

    =================   ==============================
    Samples total       1030
    Dimensionality      8
    Features            real, non-negative, unscaled
    Target              real 2.33 - 82.6 (MPa)
    =================   ==============================

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame and ``target`` a pandas
        Series, with the dtypes pandas reads from the CSV (``Age`` int64,
        everything else float64), and ``frame`` holds the whole table. Needs
        pandas. If False, ``data`` and ``target`` are float64 NumPy arrays
        and pandas is not needed.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : ndarray of shape (1030, 8) or DataFrame
            The feature matrix, in the file's column order.
        target : ndarray of shape (1030,) or Series
            The compressive strength in MPa.
        frame : DataFrame of shape (1030, 9) or None
            The full table (features and target) if ``as_frame=True``,
            otherwise None.
        feature_names : list of str
            ``Cement``, ``BlastFurnaceSlag``, ``FlyAsh``, ``Water``,
            ``Superplasticizer``, ``CoarseAggregate``, ``FineAggregate``,
            ``Age``.
        target_names : list of str
            ``["CompressiveStrength"]``.
        DESCR : str
            A description of the data set.

    (data, target) : tuple if ``return_X_y`` is True
        The two objects described above.

    Notes
    -----
    Source: I-Cheng Yeh, "Modeling of strength of high-performance concrete
    using artificial neural networks", Cement and Concrete Research 28(12),
    1998. UCI Machine Learning Repository, CC BY 4.0.

    The file contains 25 exact duplicate rows; they are part of the original
    data and are kept. The features are on very different scales (``Age``
    1-365, ``CoarseAggregate`` around 1000) and are not scaled.

    Examples
    --------
    >>> from sknormnet.datasets import load_concrete
    >>> bunch = load_concrete()
    >>> bunch.data.shape, bunch.target.shape
    ((1030, 8), (1030,))
    >>> bunch.feature_names[0], bunch.target_names
    ('Cement', ['CompressiveStrength'])
    """
    return _load_numeric(
        "concrete.csv",
        _CONCRETE_TARGET,
        "concrete.rst",
        "load_concrete",
        return_X_y=return_X_y,
        as_frame=as_frame,
    )


def load_spotify(*, return_X_y=False, as_frame=False):
    """Load the Spotify songs data set (regression on track popularity).

    32833 rows, one per (track, playlist) pair, from six playlist genres. The
    target ``track_popularity`` is Spotify's popularity score, an integer
    from 0 to 100, returned as given (not divided by 100). ``data`` holds the
    other 22 columns: identifiers, names, playlist genre and subgenre, the
    release date and 12 audio features, so that you can group by
    ``track_artist`` and pick the columns a model should see.

    =================   ==============================================
    Samples total       32833
    Dimensionality      22 (10 text columns, 12 numeric audio features)
    Target              integer 0 - 100 (``track_popularity``)
    =================   ==============================================

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        Must be True. The data has text columns, so there is no sensible
        NumPy form of it; the default ``as_frame=False`` (kept for the same
        signature as the other loaders) raises a ValueError. Needs pandas.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : DataFrame of shape (32833, 22)
            All columns except the target, in the file's column order.
        target : Series of shape (32833,)
            ``track_popularity``, int64.
        frame : DataFrame of shape (32833, 23)
            The full table, target included.
        feature_names : list of str
            The 22 column names of ``data``.
        target_names : list of str
            ``["track_popularity"]``.
        DESCR : str
            A description of the data set.

    (data, target) : tuple if ``return_X_y`` is True
        The two objects described above.

    Raises
    ------
    ValueError
        If ``as_frame`` is False.
    ImportError
        If pandas is not installed.

    Notes
    -----
    Source: the TidyTuesday data set of 2020-01-21 ("spotify_songs"),
    collected with the spotifyr R package from Spotify's public API. Track
    metadata and audio features belong to Spotify; it is shipped for
    examples and benchmarks with this attribution.

    Dtypes are whatever :func:`pandas.read_csv` infers by default: the audio
    features are float64 (``key``, ``mode`` and ``duration_ms`` int64) and
    the text columns use pandas' default text dtype (``str`` in pandas 3,
    ``object`` in pandas 2). ``track_album_release_date`` stays text: it is
    ``YYYY-MM-DD`` for most rows but only ``YYYY`` or ``YYYY-MM`` for some.
    Only the literal string ``NA`` is read as missing; it occurs in
    ``track_name``, ``track_artist`` and ``track_album_name`` of 5 rows.

    The same track appears in several playlists (28,356 distinct
    ``track_id`` values), so a random row split leaks tracks between train
    and test; split by ``track_artist`` instead, e.g. with
    :class:`~sklearn.model_selection.GroupShuffleSplit`.

    Examples
    --------
    >>> from sknormnet.datasets import load_spotify
    >>> X, y = load_spotify(return_X_y=True, as_frame=True)
    >>> X.shape, y.shape
    ((32833, 22), (32833,))
    >>> int(y.min()), int(y.max())
    (0, 100)
    >>> int(X["track_artist"].isna().sum())
    5
    >>> load_spotify()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: load_spotify() needs as_frame=True...
    """
    if not as_frame:
        raise ValueError(
            "load_spotify() needs as_frame=True: the Spotify data has text "
            "columns (ids, names, genres, release dates), so it is only "
            "available as a pandas DataFrame. Call "
            "load_spotify(as_frame=True) and select the numeric columns you "
            "need."
        )
    pd = _import_pandas("load_spotify()", "(the data has text columns)")
    with _resource("data", "spotify.csv.gz").open("rb") as fh:
        frame = pd.read_csv(
            fh, compression="gzip", keep_default_na=False, na_values=["NA"]
        )
    target = _SPOTIFY_TARGET
    feature_names = [str(col) for col in frame.columns if col != target]
    data = frame[feature_names]
    y = frame[target]

    if return_X_y:
        return data, y
    return Bunch(
        data=data,
        target=y,
        frame=frame,
        feature_names=feature_names,
        target_names=[target],
        DESCR=_read_descr("spotify.rst"),
    )
