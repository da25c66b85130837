"""Build, compile and fold the Keras network: the only module that touches Keras layers.

Imported lazily (from ``fit``), so that ``import sknormnet``, ``get_params``,
``clone`` and parameter validation never pay for importing Keras.
"""

from __future__ import annotations

from collections.abc import Iterator

import keras
import numpy as np

from ._names import ACTIVATIONS
from ._plan import LayerSpec

# loss name -> (Keras loss, weight). squared_error is half the mean squared
# error, as in MLPRegressor, so loss_curve_ and alpha mean what they mean there.
_KERAS_LOSSES = {
    "squared_error": (keras.losses.MeanSquaredError, 0.5),
    "absolute_error": (keras.losses.MeanAbsoluteError, 1.0),
    "huber": (keras.losses.Huber, 1.0),
}


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
                    activation=ACTIVATIONS[spec.activation] if spec.activation else None,
                    use_bias=spec.use_bias,
                    kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)),
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
                keras.layers.Activation(ACTIVATIONS[spec.activation], name=spec.name)
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
) -> keras.optimizers.Optimizer:
    if solver == "adam":
        return keras.optimizers.Adam(
            learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon
        )
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
    loss_class, weight = _KERAS_LOSSES[loss]
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
        weights = [np.asarray(w, dtype=np.float64) for w in model.get_layer(spec.name).get_weights()]
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
