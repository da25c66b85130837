"""
===========================
Dropout against overfitting
===========================

The lesson's Spotify network (Dense(128) and Dense(64), mean absolute error,
batches of 512) is fitted twice on the same rows: once without dropout and
once with ``dropout_rate=0.3``. The validation rows come from artists that
are not in the training rows, so the validation curve measures how well the
network carries over to new artists rather than how well it remembers tracks
it has already seen (the same track appears in several playlists).

:class:`~sknormnet.plotting.TrainingCurveDisplay` draws both fits on one axes:
solid lines for the training loss, dashed lines for the validation loss.
"""

# %%
# Settings
# --------
# ``SKNORMNET_QUICK=1`` runs a smaller version (a subsample, fewer epochs);
# figures go to ``SKNORMNET_EXAMPLES_OUT`` (default:
# ``./sknormnet-examples-output``).
import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.compose import make_column_transformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GroupShuffleSplit
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sknormnet import NormNetRegressor
from sknormnet.datasets import load_spotify
from sknormnet.plotting import TrainingCurveDisplay

QUICK = os.environ.get("SKNORMNET_QUICK") == "1"
OUTPUT = Path(os.environ.get("SKNORMNET_EXAMPLES_OUT", "sknormnet-examples-output"))
OUTPUT.mkdir(parents=True, exist_ok=True)
EPOCHS = 15 if QUICK else 50
# Every fit below runs a fixed number of epochs, so reaching max_iter is the
# plan, not a convergence problem.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

# %%
# A split by artist
# -----------------
# Twelve audio features are standardized and the playlist genre is one-hot
# encoded, as in the lesson. ``GroupShuffleSplit`` keeps every artist on one
# side of the split.
features = [
    "danceability", "energy", "key", "loudness", "mode", "speechiness",
    "acousticness", "instrumentalness", "liveness", "valence", "tempo",
    "duration_ms",
]  # fmt: skip
frame = load_spotify(as_frame=True).frame.dropna()
if QUICK:
    frame = frame.sample(n=6000, random_state=0)
X = frame[[*features, "playlist_genre"]]
y = frame["track_popularity"] / 100
artists = frame["track_artist"]

train, valid = next(
    GroupShuffleSplit(train_size=0.75, random_state=0).split(X, y, groups=artists)
)
preprocess = make_column_transformer(
    (StandardScaler(), features), (OneHotEncoder(), ["playlist_genre"])
)
X_train = preprocess.fit_transform(X.iloc[train])
X_valid = preprocess.transform(X.iloc[valid])
y_train, y_valid = y.iloc[train], y.iloc[valid]
print(
    f"{len(train)} training rows, {len(valid)} validation rows; "
    f"shared artists: {len(set(artists.iloc[train]) & set(artists.iloc[valid]))}"
)

# %%
# Two fits, with and without dropout
# -----------------------------------
# ``n_iter_no_change=max_iter`` and ``alpha=0`` make the estimator behave like
# the lesson's Keras code: a fixed number of epochs and no L2 penalty.
# Passing ``X_val`` and ``y_val`` scores the validation rows after every
# epoch; they never influence training.
fits = {}
for rate in (0.0, 0.3):
    network = NormNetRegressor(
        hidden_layer_sizes=(128, 64),
        dropout_rate=rate,
        loss="absolute_error",
        batch_size=512,
        max_iter=EPOCHS,
        n_iter_no_change=EPOCHS,
        alpha=0.0,
        weight_averaging=0.0,  # each epoch's own weights, as in Keras
        random_state=0,
    )
    fits[rate] = network.fit(X_train, y_train, X_val=X_valid, y_val=y_valid)
    print(network.describe_layers(), end="\n\n")

# %%
# The curves
# ----------
# In the full run (all rows, 50 epochs), without dropout the training loss
# keeps falling while the validation loss turns upwards after a few epochs:
# the network starts fitting what is particular to the training artists.
# With dropout the validation loss keeps improving for longer and ends lower.
# The quick run (``SKNORMNET_QUICK=1``) is too short to show this.
#
# The training loss with dropout is measured on the thinned network that is
# being trained, while the validation loss uses the whole network; that is
# why the dropout fit can score better on validation than on training rows.
fig, ax = plt.subplots(figsize=(7.5, 4.5))
for rate, network in fits.items():
    TrainingCurveDisplay.from_estimator(
        network,
        ax=ax,
        name="no dropout" if rate == 0 else f"dropout {rate:g}",
        title="Spotify popularity: training vs validation (unseen artists)",
    )
ax.set_ylabel("Mean absolute error (popularity / 100)")
fig.tight_layout()
fig.savefig(OUTPUT / "dropout_overfitting.png", dpi=100)

# %%
# Best epoch of each fit
# ----------------------
for rate, network in fits.items():
    curve = np.asarray(network.history_["val_loss"])
    best = int(np.argmin(curve))
    print(
        f"dropout {rate:g}: best validation MAE {curve[best]:.4f} at epoch "
        f"{best + 1} of {network.n_iter_}, last epoch {curve[-1]:.4f}"
    )
