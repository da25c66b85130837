"""
======================================================
Coming from MLPRegressor, from scikeras, or from Keras
======================================================

One network, a 64-64 ReLU perceptron trained with Adam on the squared error
in batches of 32, written three ways: as scikit-learn's
:class:`~sklearn.neural_network.MLPRegressor`, as
:class:`~sknormnet.NormNetRegressor`, and as a raw ``keras.Sequential`` model.
The scikeras version is shown as text only.

All three are trained on the standardized concrete data for the same number
of epochs, and their training curves are drawn on one axes with
:class:`~sknormnet.plotting.TrainingCurveDisplay`.
"""

# %%
# Settings
# --------
# ``SKNORMNET_QUICK=1`` trains for 20 epochs instead of 100; figures go to
# ``SKNORMNET_EXAMPLES_OUT`` (default: ``./sknormnet-examples-output``).
import os
import warnings
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_absolute_error
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from sknormnet import NormNetRegressor
from sknormnet.datasets import load_concrete
from sknormnet.plotting import TrainingCurveDisplay

QUICK = os.environ.get("SKNORMNET_QUICK") == "1"
OUTPUT = Path(os.environ.get("SKNORMNET_EXAMPLES_OUT", "sknormnet-examples-output"))
OUTPUT.mkdir(parents=True, exist_ok=True)
EPOCHS = 20 if QUICK else 100
# all three run a fixed number of epochs: reaching max_iter is the plan
warnings.filterwarnings("ignore", category=ConvergenceWarning)

# %%
# Data
# ----
# The lesson's 70/30 split of the concrete data; the features are
# standardized here because MLPRegressor and the plain Keras model have no
# batch normalization to cope with their raw scales. Keras trains in float32,
# so the arrays are converted once for all three.
frame = load_concrete(as_frame=True).frame
train = frame.sample(frac=0.7, random_state=0)
valid = frame.drop(train.index)
target = "CompressiveStrength"
scaler = StandardScaler().fit(train.drop(columns=target))
X_train = scaler.transform(train.drop(columns=target)).astype(np.float32)
X_valid = scaler.transform(valid.drop(columns=target)).astype(np.float32)
y_train = train[target].to_numpy(np.float32)
y_valid = valid[target].to_numpy(np.float32)

# %%
# From MLPRegressor
# -----------------
# sknormnet keeps MLPRegressor's parameter names, so the same keyword
# arguments build the same network, given the two defaults that differ and
# matter here: no dropout (``dropout_rate=0``) and no early stopping
# (``early_stopping=False``). Two settings make the run comparable with a
# Keras ``fit(epochs=...)``: ``alpha=0`` (no L2 penalty) and
# ``n_iter_no_change=max_iter`` (never stop early on a stalled loss).
shared = dict(
    hidden_layer_sizes=(64, 64),
    activation="relu",
    solver="adam",
    alpha=0.0,
    batch_size=32,
    learning_rate_init=1e-3,
    max_iter=EPOCHS,
    n_iter_no_change=EPOCHS,
    random_state=0,
)
mlp = MLPRegressor(**shared).fit(X_train, y_train)
normnet = NormNetRegressor(
    **shared, dropout_rate=0.0, early_stopping=False, weight_averaging=0.0
)
normnet.fit(X_train, y_train, X_val=X_valid, y_val=y_valid)
print(normnet.describe_layers())

# %%
# From dropout and batch normalization upwards, sknormnet adds parameters
# that MLPRegressor does not have, all searchable with ``GridSearchCV``::
#
#     NormNetRegressor(**shared, dropout_rate=0.2, batchnorm="before_activation")


# %%
# From raw Keras
# --------------
# The equivalent ``keras.Sequential`` code. Keras' Dense default initializer
# is Glorot-uniform, the bound sknormnet draws its kernels from (sknormnet,
# like MLPRegressor, draws the biases too; Keras starts them at zero); each
# initializer gets its own
# integer seed here instead of a process-wide ``keras.utils.set_random_seed``
# call. The shuffling inside Keras' ``fit`` is not covered by these seeds
# (with TensorFlow it is an unseeded random operation), so this curve changes
# a little from one run to the next; sknormnet shuffles the rows itself, with
# ``random_state``.
#
# In Keras terms the ``NormNetRegressor`` above is::
#
#     Dense(64, relu) -> Dense(64, relu) -> Dense(1)
#     Adam(learning_rate=1e-3, epsilon=1e-8), batch_size=32, epochs=EPOCHS
#
# ``loss='squared_error'`` is half the mean squared error, as in
# MLPRegressor; Keras' ``"mean_squared_error"`` is twice that. Adam's steps
# do not depend on a constant factor in the loss (up to its tiny
# ``epsilon``), and the Keras curve is halved below so that the three curves
# share one scale.
def seeded(seed):
    return keras.initializers.GlorotUniform(seed=seed)


model = keras.Sequential(
    [
        keras.Input(shape=(X_train.shape[1],)),
        keras.layers.Dense(64, activation="relu", kernel_initializer=seeded(1)),
        keras.layers.Dense(64, activation="relu", kernel_initializer=seeded(2)),
        keras.layers.Dense(1, kernel_initializer=seeded(3)),
    ]
)
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-8),
    loss="mean_squared_error",
)
history = model.fit(
    X_train,
    y_train,
    validation_data=(X_valid, y_valid),
    batch_size=32,
    epochs=EPOCHS,
    verbose=0,
)
keras_half_mse = {
    key: np.asarray(values) / 2 for key, values in history.history.items()
}

# %%
# From scikeras
# -------------
# scikeras is not needed (nor imported) here. A scikeras user writes a
# model-building function and routes its arguments with ``model__`` prefixes::
#
#     from scikeras.wrappers import KerasRegressor
#
#
#     def build(hidden_layer_sizes, dropout, meta):
#         model = keras.Sequential([keras.Input((meta["n_features_in_"],))])
#         for units in hidden_layer_sizes:
#             model.add(keras.layers.Dense(units, activation="relu"))
#             model.add(keras.layers.Dropout(dropout))
#         model.add(keras.layers.Dense(1))
#         return model
#
#
#     reg = KerasRegressor(
#         model=build,
#         model__hidden_layer_sizes=(64, 64),
#         model__dropout=0.0,
#         optimizer="adam",
#         optimizer__learning_rate=1e-3,
#         loss="mean_squared_error",
#         batch_size=32,
#         epochs=100,
#         random_state=0,
#     )
#
# With sknormnet there is no building function: the architecture is the
# estimator's parameters, ``model__dropout`` becomes ``dropout_rate``,
# ``epochs`` becomes ``max_iter``, ``optimizer`` becomes ``solver`` and
# ``optimizer__learning_rate`` becomes ``learning_rate_init``. A grid over
# ``model__dropout`` becomes a grid over ``dropout_rate``.

# %%
# Three training curves
# ---------------------
# MLPRegressor records only its training loss (``loss_curve_``); the other
# two also scored the validation rows after every epoch (dashed).
fig, ax = plt.subplots(figsize=(7.5, 4.5))
TrainingCurveDisplay.from_history({"loss": mlp.loss_curve_}, ax=ax, name="MLPRegressor")
TrainingCurveDisplay.from_estimator(normnet, ax=ax, name="NormNetRegressor")
TrainingCurveDisplay.from_history(
    keras_half_mse,
    ax=ax,
    name="keras.Sequential",
    title="Concrete: one 64-64 network, three ways",
)
ax.set_yscale("log")
ax.set_ylabel("Half mean squared error (MPa², log scale)")
fig.tight_layout()
fig.savefig(OUTPUT / "from_mlp_scikeras_keras.png", dpi=100)

# %%
# Validation error
# ----------------
# Different random draws (initial weights, batch order) make the three
# numbers differ somewhat; they are the same model, not the same run.
predictions = {
    "MLPRegressor": mlp.predict(X_valid),
    "NormNetRegressor": normnet.predict(X_valid),
    "keras.Sequential": model.predict(X_valid, verbose=0).ravel(),
}
for name, predicted in predictions.items():
    print(
        f"{name:>18}: validation MAE {mean_absolute_error(y_valid, predicted):.2f} MPa"
    )
