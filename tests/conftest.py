import os

# Quiet TensorFlow's C++ start-up logging; must happen before Keras imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest


@pytest.fixture(scope="session")
def easy_regression():
    """A smooth, low-noise regression problem a small net fits well."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    y = 2.0 * X[:, 0] - X[:, 1] + 0.5 * X[:, 2] * X[:, 3] + 0.05 * rng.normal(size=400)
    return X, y


@pytest.fixture(scope="session")
def spotify_like():
    """A DataFrame shaped like the lesson's Spotify set: numeric + categorical + group."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    n = 300
    genres = np.array(["pop", "rock", "rap", "edm"])
    frame = pd.DataFrame(
        {
            "danceability": rng.uniform(0, 1, n),
            "energy": rng.uniform(0, 1, n),
            "loudness": rng.normal(-7, 3, n),
            "tempo": rng.normal(120, 25, n),
            "playlist_genre": genres[rng.integers(0, 4, n)],
            "track_artist": [f"artist_{i}" for i in rng.integers(0, 40, n)],
        }
    )
    genre_effect = frame["playlist_genre"].map(
        {"pop": 0.2, "rock": 0.0, "rap": 0.1, "edm": -0.1}
    )
    y = (
        0.4
        + 0.3 * frame["danceability"]
        - 0.2 * frame["energy"]
        + 0.01 * (frame["loudness"] + 7)
        + genre_effect
        + 0.03 * rng.normal(size=n)
    ).to_numpy()
    return frame, y
