"""
=============================================
Batch normalization rescues SGD on raw inputs
=============================================

The concrete data set mixes features on very different scales: ``Age`` runs
from 1 to 365 days while ``CoarseAggregate`` sits around 1000 kg/m³, and the
target is a strength in MPa. The lesson feeds these columns to three
Dense(512) layers trained with plain SGD (no momentum, learning rate 0.01) on
the mean absolute error, without any scaling.

Without batch normalization, the first updates are so large that the loss
becomes NaN and sknormnet stops the fit with a ``ValueError`` naming the
epoch. With ``batchnorm='before_dense'`` (a BatchNormalization layer in front
of every Dense layer, the first of which rescales the raw inputs) the same
network and optimizer train normally.
"""

# %%
# Settings
# --------
# ``SKNORMNET_QUICK=1`` runs narrower layers for fewer epochs; figures go to
# ``SKNORMNET_EXAMPLES_OUT`` (default: ``./sknormnet-examples-output``).
import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning

from sknormnet import NormNetRegressor
from sknormnet.datasets import load_concrete
from sknormnet.plotting import TrainingCurveDisplay

QUICK = os.environ.get("SKNORMNET_QUICK") == "1"
OUTPUT = Path(os.environ.get("SKNORMNET_EXAMPLES_OUT", "sknormnet-examples-output"))
OUTPUT.mkdir(parents=True, exist_ok=True)
EPOCHS = 20 if QUICK else 100
WIDTH = 64 if QUICK else 512

# %%
# The lesson's split
# ------------------
# 70 % of the rows for training, drawn with ``DataFrame.sample``; the other
# 30 % are scored after every epoch. The features are left unscaled on
# purpose.
frame = load_concrete(as_frame=True).frame
train = frame.sample(frac=0.7, random_state=0)
valid = frame.drop(train.index)
target = "CompressiveStrength"
X_train, y_train = train.drop(columns=target), train[target]
X_valid, y_valid = valid.drop(columns=target), valid[target]
print(X_train.describe().loc[["min", "max"]].round(1).to_string())

# %%
# Same network, with and without batch normalization
# --------------------------------------------------
# A fixed number of epochs (``n_iter_no_change=max_iter``) and no L2 penalty
# (``alpha=0``), as in the Keras recipe. A diverging fit raises a
# ``ValueError`` and leaves the estimator as it was; here that outcome is
# recorded rather than allowed to end the script.
recipe = dict(
    hidden_layer_sizes=(WIDTH, WIDTH, WIDTH),
    dropout_rate=0.0,
    weight_averaging=0.0,  # each epoch's own weights, as in Keras
    solver="sgd",
    momentum=0.0,
    learning_rate_init=0.01,
    loss="absolute_error",
    batch_size=64,
    max_iter=EPOCHS,
    n_iter_no_change=EPOCHS,
    alpha=0.0,
    random_state=0,
)
results = {}
for batchnorm in (None, "before_dense"):
    network = NormNetRegressor(batchnorm=batchnorm, **recipe)
    with warnings.catch_warnings():
        # reaching max_iter is the plan with a fixed number of epochs
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        try:
            network.fit(X_train, y_train, X_val=X_valid, y_val=y_valid)
        except ValueError as exc:
            # keep the first sentence: "Training diverged at epoch N: ..."
            results[batchnorm] = str(exc).split(". ")[0] + "."
            print(f"batchnorm={batchnorm!r}: {exc}\n")
            continue
    results[batchnorm] = network
    print(f"batchnorm={batchnorm!r}:")
    print(network.describe_layers())
    print(f"best validation MAE: {min(network.history_['val_loss']):.2f} MPa\n")

# %%
# The curves
# ----------
# One panel per fit. A fit that diverged has no curve to draw, so its panel
# states what happened instead.
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=False)
for ax, (batchnorm, outcome) in zip(axes, results.items(), strict=True):
    title = f"SGD, batchnorm={batchnorm!r}"
    if isinstance(outcome, str):
        ax.text(
            0.5,
            0.5,
            "Fit stopped with a ValueError:\n" + outcome.replace(": ", ":\n", 1),
            ha="center",
            va="center",
            wrap=True,
            transform=ax.transAxes,
            color="tab:red",
        )
        ax.set_title(title)
        ax.set_xlabel("Epoch")
        ax.set_ylabel("Mean absolute error (MPa)")
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        TrainingCurveDisplay.from_estimator(
            outcome, ax=ax, name="with batchnorm", title=title
        )
        ax.set_ylabel("Mean absolute error (MPa)")
fig.suptitle(f"Concrete strength, 3 x Dense({WIDTH}), plain SGD on unscaled inputs")
fig.tight_layout()
fig.savefig(OUTPUT / "batchnorm_sgd_concrete.png", dpi=100)
