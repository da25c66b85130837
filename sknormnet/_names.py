"""Name tables: scikit-learn-style parameter values and what they mean.

This module imports nothing heavy, so parameter validation, ``get_params`` and
``clone`` never pay for importing Keras. The Keras identifiers are plain strings
here; ``_model`` turns them into layers and objects.
"""

# activation name (MLPRegressor's vocabulary, plus Keras extras) -> Keras name
ACTIVATIONS = {
    "identity": "linear",
    "logistic": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "elu": "elu",
    "selu": "selu",
    "gelu": "gelu",
    "swish": "silu",
}

# Output-only activations (a classifier's multiclass output): never a hidden
# layer's, so not among the values of the ``activation`` parameter.
OUTPUT_ACTIVATIONS = {"softmax": "softmax"}

# Activations f with f(g * x) = g * f(x) for g > 0: a BatchNormalization scale
# (gamma) placed right before them can be absorbed by the next Dense kernel.
SCALE_EQUIVARIANT_ACTIVATIONS = frozenset({"identity", "relu"})

# batchnorm placement -> one-line description (used in error messages and docs)
BATCHNORM_PLACEMENTS = {
    None: "no batch normalization",
    "input": "one BatchNormalization first, as an adaptive input scaler",
    "before_dense": "BatchNormalization in front of every Dense layer, output included",
    "before_activation": "Dense (no bias) -> BatchNormalization -> activation",
    "after_activation": "Dense(activation) -> [Dropout] -> BatchNormalization",
}

SOLVERS = ("adam", "adamw", "sgd", "rmsprop")

LEARNING_RATE_SCHEDULES = ("constant", "invscaling", "adaptive")

REGRESSION_LOSSES = ("squared_error", "absolute_error", "huber")

CLASSIFICATION_LOSSES = ("log_loss",)
