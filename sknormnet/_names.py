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

# Output-only activations (a classifier's multiclass output, the Poisson
# regressor's log link): never a hidden layer's, so not among the values of
# the ``activation`` parameter.
OUTPUT_ACTIVATIONS = {"softmax": "softmax", "exp": "exponential"}

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

# solver -> {Keras optimizer argument: estimator parameter}. The one table of
# the optimizers' hyperparameters: the OptimizerSpec (what a warm start may
# continue, what a compiled step is reused for) and the Keras optimizer are
# both built from it. The learning rate is not here: it is an input of every
# training step.
SOLVER_OPTIONS = {
    "adam": {"beta_1": "beta_1", "beta_2": "beta_2", "epsilon": "epsilon"},
    "adamw": {
        "beta_1": "beta_1",
        "beta_2": "beta_2",
        "epsilon": "epsilon",
        "weight_decay": "alpha",
    },
    "sgd": {"momentum": "momentum", "nesterov": "nesterovs_momentum"},
    "rmsprop": {"epsilon": "epsilon"},
}


def _sgd_slots(options: dict) -> tuple[str, ...]:
    return ("momentum",) if options["momentum"] > 0 else ()


# solver -> the optimizer's per-variable state (Keras' slot names, in order),
# as a function of the OptimizerSpec's options.
SOLVER_SLOTS = {
    "adam": lambda options: ("momentum", "velocity"),
    "adamw": lambda options: ("momentum", "velocity"),
    "sgd": _sgd_slots,
    "rmsprop": lambda options: ("velocity",),
}

LEARNING_RATE_SCHEDULES = ("constant", "invscaling", "adaptive")

REGRESSION_LOSSES = ("squared_error", "absolute_error", "huber", "poisson")

CLASSIFICATION_LOSSES = ("log_loss",)
