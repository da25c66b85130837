"""Build, compile and fold the Keras network: the only module that touches Keras layers.

Imported lazily (from ``fit``), so that ``import sknormnet``, ``get_params``,
``clone`` and parameter validation never pay for importing Keras.
"""

from __future__ import annotations

from collections.abc import Iterator

import keras
import numpy as np

from ._names import ACTIVATIONS, OUTPUT_ACTIVATIONS
from ._plan import LayerSpec

# loss name -> (Keras loss, weight). squared_error is half the mean squared
# error, as in MLPRegressor, so loss_curve_ and alpha mean what they mean there.
# log_loss is MLPClassifier's: the mean over rows of the cross-entropy summed
# over the outputs, with the same L2 penalty. On sigmoid outputs (binary,
# multilabel) it is BinaryCrossentropy, which Keras averages over the outputs:
# compile_model multiplies the weight by the number of outputs.
_KERAS_LOSSES = {
    "squared_error": (keras.losses.MeanSquaredError, 0.5),
    "absolute_error": (keras.losses.MeanAbsoluteError, 1.0),
    "huber": (keras.losses.Huber, 1.0),
    "log_loss": (keras.losses.BinaryCrossentropy, 1.0),
}
# On a softmax output (multiclass) log_loss is CategoricalCrossentropy on the
# one-hot target, already summed over the classes.
_SOFTMAX_LOSSES = {"log_loss": (keras.losses.CategoricalCrossentropy, 1.0)}

# every activation the plan can name: the hidden ones and the output-only ones
_KERAS_ACTIVATIONS = {**ACTIVATIONS, **OUTPUT_ACTIVATIONS}


def build_model(
    plan: list[LayerSpec],
    n_features: int,
    seeds: Iterator[int],
    l2: float,
    batchnorm_momentum: float,
) -> keras.Sequential:
    """Create the (uncompiled) Sequential model for ``plan``.

    Every kernel initializer and dropout layer gets its own integer seed from
    ``seeds``: Keras would otherwise draw one from its process-global seed
    generator (or Python's ``random``), which is exactly what must not happen.
    Layers are named after the plan, so Keras' global name counters are not used.
    """
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    layers: list[keras.layers.Layer] = [keras.Input(shape=(n_features,), name="input")]
    for spec in plan:
        if spec.kind == "dense":
            layers.append(
                keras.layers.Dense(
                    spec.units,
                    activation=_KERAS_ACTIVATIONS[spec.activation]
                    if spec.activation
                    else None,
                    use_bias=spec.use_bias,
                    kernel_initializer=keras.initializers.GlorotUniform(
                        seed=next(seeds)
                    ),
                    kernel_regularizer=regularizer,
                    name=spec.name,
                )
            )
        elif spec.kind == "batchnorm":
            layers.append(
                keras.layers.BatchNormalization(
                    momentum=batchnorm_momentum, scale=spec.scale, name=spec.name
                )
            )
        elif spec.kind == "activation":
            layers.append(
                keras.layers.Activation(
                    _KERAS_ACTIVATIONS[spec.activation], name=spec.name
                )
            )
        elif spec.kind == "dropout":
            layers.append(
                keras.layers.Dropout(spec.rate, seed=next(seeds), name=spec.name)
            )
        else:  # pragma: no cover - the plan only produces the kinds above
            raise AssertionError(spec.kind)
    return keras.Sequential(layers, name="normnet")


def make_optimizer(
    solver: str,
    learning_rate: float,
    *,
    momentum: float,
    nesterovs_momentum: bool,
    beta_1: float,
    beta_2: float,
    epsilon: float,
    weight_decay: float,
) -> keras.optimizers.Optimizer:
    if solver == "adam":
        return keras.optimizers.Adam(
            learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon
        )
    if solver == "adamw":
        optimizer = keras.optimizers.AdamW(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
        )
        # Decay the kernels only, like the L2 penalty of the other solvers.
        optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
        return optimizer
    if solver == "sgd":
        return keras.optimizers.SGD(
            learning_rate=learning_rate,
            momentum=momentum,
            nesterov=nesterovs_momentum and momentum > 0,
        )
    if solver == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=learning_rate, epsilon=epsilon)
    raise AssertionError(solver)  # pragma: no cover - validated by the estimator


def compile_model(model: keras.Model, optimizer, loss: str) -> None:
    """Compile with the Keras loss for ``loss`` and the model's output layer."""
    output = model.get_layer("output")
    if output.get_config()["activation"] == "softmax":
        loss_class, weight = _SOFTMAX_LOSSES[loss]
    else:
        loss_class, weight = _KERAS_LOSSES[loss]
        if loss == "log_loss":
            weight *= output.units
    model.compile(optimizer=optimizer, loss=loss_class(), loss_weights=weight)


def fold_network(
    plan: list[LayerSpec], model: keras.Model
) -> tuple[list[np.ndarray], list[np.ndarray], list[str], list[float]]:
    """The inference-mode network as a plain MLP, every BatchNorm folded away.

    In inference mode BatchNormalization is the affine map ``x * s + t`` with
    ``s = gamma / sqrt(moving_variance + epsilon)`` and
    ``t = beta - moving_mean * s``. A BatchNorm right behind a Dense layer
    (before its activation) is folded into that layer's columns; any other
    BatchNorm sits in front of the next Dense layer and is folded into its rows.
    Dropout is the identity at inference; its rate is kept, per folded layer,
    for stochastic (Monte-Carlo) passes.

    Returns ``coefs, intercepts, activations, dropout_rates`` in float64, one
    entry per Dense layer.
    """
    coefs: list[np.ndarray] = []
    intercepts: list[np.ndarray] = []
    activations: list[str] = []
    rates: list[float] = []
    pending: tuple[np.ndarray, np.ndarray] | None = None  # affine before next Dense
    open_dense = False  # last Dense has no activation applied yet

    for spec in plan:
        weights = [
            host_array(w).astype(np.float64) for w in model.get_layer(spec.name).weights
        ]
        if spec.kind == "dense":
            kernel = weights[0]
            bias = weights[1] if spec.use_bias else np.zeros(kernel.shape[1])
            if pending is not None:
                scale, shift = pending
                bias = shift @ kernel + bias
                kernel = scale[:, None] * kernel
                pending = None
            coefs.append(kernel)
            intercepts.append(bias)
            activations.append(spec.activation or "identity")
            rates.append(0.0)
            open_dense = spec.activation is None
        elif spec.kind == "batchnorm":
            layer = model.get_layer(spec.name)
            gamma = weights.pop(0) if layer.scale else 1.0
            beta = weights.pop(0) if layer.center else 0.0
            mean, var = weights
            scale = gamma / np.sqrt(var + layer.epsilon)
            shift = beta - mean * scale
            if open_dense:
                coefs[-1] = coefs[-1] * scale[None, :]
                intercepts[-1] = intercepts[-1] * scale + shift
            elif pending is None:
                pending = (scale, shift)
            else:
                pending = (pending[0] * scale, pending[1] * scale + shift)
        elif spec.kind == "activation":
            activations[-1] = spec.activation
            open_dense = False
        elif spec.kind == "dropout":
            rates[-1] = spec.rate
            open_dense = False
    return coefs, intercepts, activations, rates


def penalty(model: keras.Model) -> float:
    """The model's current regularization penalty (what Keras adds to the loss)."""
    return float(sum(np.sum(keras.ops.convert_to_numpy(loss)) for loss in model.losses))


def host_array(variable) -> np.ndarray:
    """A NumPy copy of a Keras variable's value.

    Through the backend array's own conversion: ``Variable.numpy()`` and
    ``get_weights()`` call ``np.array`` on the variable, which NumPy 2 warns
    about for Keras variables.
    """
    value = variable.value
    return value.numpy() if hasattr(value, "numpy") else np.array(value)


def get_weights(model: keras.Model) -> list[np.ndarray]:
    """``model.get_weights()`` without NumPy 2's deprecation warning."""
    return [host_array(w) for w in model.weights]


def set_learning_rate(model: keras.Model, value: float) -> None:
    model.optimizer.learning_rate = value


class ForwardOnce(keras.callbacks.Callback):
    """Hands the user's callbacks one training run although ``fit`` runs in chunks.

    ``on_train_begin`` reaches them on the first chunk only and
    ``on_train_end`` only through ``finish()``; epoch hooks always. Batch hooks
    are forwarded only when a user callback defines them (``has_batch_hooks``),
    so that training otherwise keeps its fast path: a whole epoch per call of
    the train function, no Python call per batch.
    """

    _BATCH_HOOKS = (
        "on_train_batch_begin",
        "on_train_batch_end",
        "on_test_batch_begin",
        "on_test_batch_end",
        "on_predict_batch_begin",
        "on_predict_batch_end",
    )

    def __init__(self, callbacks: list):
        super().__init__()
        self.callbacks = list(callbacks)
        self._begun = False
        self.has_batch_hooks = False
        for hook in self._BATCH_HOOKS:
            users = [
                cb
                for cb in self.callbacks
                if getattr(type(cb), hook)
                is not getattr(keras.callbacks.Callback, hook)
            ]
            if users:
                setattr(self, hook, self._forwarder(hook, users))
                self.has_batch_hooks = True

    @staticmethod
    def _forwarder(hook, users):
        def forward(*args, **kwargs):
            for cb in users:
                getattr(cb, hook)(*args, **kwargs)

        return forward

    def set_model(self, model):
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)

    def on_train_begin(self, logs=None):
        if not self._begun:
            self._begun = True
            for cb in self.callbacks:
                cb.on_train_begin(logs)

    def on_epoch_begin(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def finish(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_end(logs)
