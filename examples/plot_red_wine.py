"""
=========================================
Red wine: dropout and batch normalization
=========================================

The lesson's red-wine network: three Dense(1024, relu) layers, each followed
by Dropout(0.3) and a BatchNormalization layer, trained with Adam on the mean
absolute error in batches of 256, for 100 epochs, on the raw (unscaled)
physicochemical measurements. In sknormnet that network is one set of
parameters, with ``batchnorm='after_activation'``.

The left panel shows the training and validation loss per epoch; the right
one compares the predicted and the actual quality scores of the validation
wines with scikit-learn's :class:`~sklearn.metrics.PredictionErrorDisplay`.
"""

# %%
# Settings
# --------
# ``SKNORMNET_QUICK=1`` uses Dense(128) layers and 40 epochs; figures go to
# ``SKNORMNET_EXAMPLES_OUT`` (default: ``./sknormnet-examples-output``).
import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import PredictionErrorDisplay, mean_absolute_error

from sknormnet import NormNetRegressor
from sknormnet.datasets import load_red_wine
from sknormnet.plotting import TrainingCurveDisplay

QUICK = os.environ.get("SKNORMNET_QUICK") == "1"
OUTPUT = Path(os.environ.get("SKNORMNET_EXAMPLES_OUT", "sknormnet-examples-output"))
OUTPUT.mkdir(parents=True, exist_ok=True)
WIDTH, EPOCHS = (128, 40) if QUICK else (1024, 100)

# %%
# The lesson's split
# ------------------
# 70 % of the wines for training (``DataFrame.sample(frac=0.7,
# random_state=0)``), the rest for validation. No scaling: the BatchNorm
# layers adapt to the raw measurements.
frame = load_red_wine(as_frame=True).frame
train = frame.sample(frac=0.7, random_state=0)
valid = frame.drop(train.index)
X_train, y_train = train.drop(columns="quality"), train["quality"]
X_valid, y_valid = valid.drop(columns="quality"), valid["quality"]

# %%
# The network
# -----------
# ``describe_layers`` prints the layer order before anything is built.
# ``n_iter_no_change=max_iter`` and ``alpha=0`` give the Keras recipe's fixed
# number of epochs without an L2 penalty; ``weight_averaging=0`` keeps each
# epoch's own weights, as Keras does.
wine = NormNetRegressor(
    hidden_layer_sizes=(WIDTH, WIDTH, WIDTH),
    dropout_rate=0.3,
    batchnorm="after_activation",
    loss="absolute_error",
    batch_size=256,
    max_iter=EPOCHS,
    n_iter_no_change=EPOCHS,
    alpha=0.0,
    weight_averaging=0.0,
    random_state=0,
)
print(wine.describe_layers(n_features=X_train.shape[1]))

with warnings.catch_warnings():
    # reaching max_iter is the plan with a fixed number of epochs
    warnings.simplefilter("ignore", category=ConvergenceWarning)
    wine.fit(X_train, y_train, X_val=X_valid, y_val=y_valid)

best = min(wine.history_["val_loss"])
final = mean_absolute_error(y_valid, wine.predict(X_valid))
print(f"best validation MAE over the epochs: {best:.3f}")
print(f"validation MAE of the final network: {final:.3f}")

# %%
# Curves and predictions
# ----------------------
# The quality target runs from 3 to 8 and is not centred, so the first
# epochs mostly move the output towards the mean score.
#
# In the full run the validation loss jumps about during the first twenty or
# so epochs. At prediction time each BatchNorm layer normalizes with moving
# averages of the batch statistics (``batchnorm_momentum=0.99``), and with
# about 1100 rows in batches of 256 there are only five updates per epoch:
# the averages take a while to catch up with the statistics of the raw
# inputs and of the changing hidden layers. A lower ``batchnorm_momentum``
# shortens that phase.
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
TrainingCurveDisplay.from_estimator(
    wine, ax=left, name="red wine", title="Loss per epoch"
)
left.set_ylabel("Mean absolute error (quality points)")
PredictionErrorDisplay.from_estimator(
    wine,
    X_valid,
    y_valid,
    kind="actual_vs_predicted",
    ax=right,
    scatter_kwargs={"alpha": 0.3},
)
right.set_title(f"Validation wines (MAE {final:.2f})")
fig.suptitle(
    f"Red wine quality: 3 x Dense({WIDTH}) + Dropout(0.3) + BatchNorm after each block"
)
fig.tight_layout()
fig.savefig(OUTPUT / "red_wine.png", dpi=100)
