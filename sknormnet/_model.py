"""Keras objects from the specs: the network as a Keras model, the optimizer.

The only module that builds Keras layers. Used for ``model_`` (a Keras copy
of a fitted network, built when first read) and by the Keras ``Model.fit``
path (``_engine_keras``); the backend engines train the same network from
the same specs without building a model.
"""

from __future__ import annotations

from collections.abc import Iterator

import keras
import numpy as np

from ._names import ACTIVATIONS, OUTPUT_ACTIVATIONS
from ._ops import dense_product
from ._spec import BATCHNORM_EPSILON, NetworkSpec, OptimizerSpec

# every activation a plan can name: the hidden ones and the output-only ones
_KERAS_ACTIVATIONS = {**ACTIVATIONS, **OUTPUT_ACTIVATIONS}

# loss name -> (Keras loss on the model's outputs, weight), for ``model_``
# (``model_.fit`` trains what the estimator trains). squared_error is half the
# mean squared error; log_loss on sigmoid outputs is Keras' binary
# cross-entropy, which averages over the outputs: the weight is multiplied by
# their number. On a softmax output it is the categorical cross-entropy.
_KERAS_LOSSES = {
    "squared_error": (keras.losses.MeanSquaredError, 0.5),
    "absolute_error": (keras.losses.MeanAbsoluteError, 1.0),
    "huber": (keras.losses.Huber, 1.0),
    "poisson": (keras.losses.Poisson, 1.0),
    "log_loss": (keras.losses.BinaryCrossentropy, 1.0),
}

_KERAS_OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
}


@keras.saving.register_keras_serializable(package="sknormnet")
class MemberDense(keras.layers.Layer):
    """A Dense layer split between ``members`` independent networks.

    The input's columns and the ``units`` are split evenly between the
    members; member ``k``'s units see member ``k``'s columns only, through
    its own kernel (the kernel has shape ``(members, fan_in, fan_out)``).
    Weights start at zero: a network's weights are always set from the fit.
    """

    def __init__(
        self, units, members, activation=None, use_bias=True, kernel_regularizer=None,
        **kwargs,
    ):  # fmt: skip
        super().__init__(**kwargs)
        self.units = units
        self.members = members
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        k = self.members
        self.kernel = self.add_weight(
            shape=(k, input_shape[-1] // k, self.units // k),
            initializer="zeros",
            regularizer=self.kernel_regularizer,
            name="kernel",
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,), initializer="zeros", name="bias"
            )

    def call(self, inputs):
        h = dense_product(inputs, self.kernel)
        if self.use_bias:
            h = h + self.bias
        return self.activation(h)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "members": self.members,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
        }


@keras.saving.register_keras_serializable(package="sknormnet")
class MemberMean(keras.layers.Layer):
    """The mean of ``members`` equal-width blocks of the input's columns."""

    def __init__(self, members, **kwargs):
        super().__init__(**kwargs)
        self.members = members

    def call(self, inputs):
        width = inputs.shape[-1] // self.members
        split = keras.ops.reshape(inputs, (-1, self.members, width))
        return keras.ops.mean(split, axis=1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // self.members)

    def get_config(self):
        return {**super().get_config(), "members": self.members}


def build_model(
    spec: NetworkSpec,
    seeds: Iterator[int],
    *,
    raw_output: bool = False,
    l2: float = 0.0,
) -> keras.Sequential:
    """The (uncompiled) Sequential model of ``spec``, weights not set.

    Every Dropout layer gets its own integer seed from ``seeds``: Keras would
    otherwise draw one from its process-global seed generator. Layers are
    named after the plan, so Keras' global name counters are not used. With
    ``raw_output`` the output layer has no activation (a classifier's
    logits); ``l2`` adds Keras' L2 regularizer to every kernel. A network
    with members ends with each member's raw outputs side by side (with
    ``raw_output``), or with their mean through the output activation.
    """
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    layers: list = [keras.Input(shape=(spec.n_features,), name="input")]
    for layer in spec.layers:
        if layer.kind == "dense":
            activation = layer.activation
            output = layer is spec.layers[-1]
            if output and (raw_output or layer.members > 1):
                activation = None  # a mean of members is taken on raw outputs
            options = dict(
                activation=_KERAS_ACTIVATIONS[activation] if activation else None,
                use_bias=layer.use_bias,
                kernel_regularizer=regularizer,
                name=layer.name,
            )
            if layer.members > 1:
                dense = MemberDense(layer.units, layer.members, **options)
            else:
                dense = keras.layers.Dense(layer.units, **options)
            layers.append(dense)
            if output and layer.members > 1 and not raw_output:
                layers.append(MemberMean(layer.members, name="member_mean"))
                if layer.activation not in (None, "identity"):
                    layers.append(
                        keras.layers.Activation(
                            _KERAS_ACTIVATIONS[layer.activation],
                            name="output_activation",
                        )
                    )
        elif layer.kind == "batchnorm":
            layers.append(
                keras.layers.BatchNormalization(
                    momentum=spec.batchnorm_momentum,
                    epsilon=BATCHNORM_EPSILON,
                    scale=layer.scale,
                    name=layer.name,
                )
            )
        elif layer.kind == "activation":
            layers.append(
                keras.layers.Activation(
                    _KERAS_ACTIVATIONS[layer.activation], name=layer.name
                )
            )
        else:  # dropout
            layers.append(
                keras.layers.Dropout(layer.rate, seed=next(seeds), name=layer.name)
            )
    return keras.Sequential(layers, name="normnet")


def make_optimizer(spec: OptimizerSpec, learning_rate: float):
    """The Keras optimizer of ``spec``."""
    optimizer = _KERAS_OPTIMIZERS[spec.solver](
        learning_rate=float(learning_rate), **dict(spec.options)
    )
    if spec.solver == "adamw":
        # Decay the kernels only, like the L2 penalty of the other solvers.
        optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


def network_variables(model: keras.Model) -> list:
    """The model's variables in ``NetworkSpec.variables()`` order (no seed states)."""
    return [
        variable
        for layer in model.layers
        for variable in layer.variables
        if not _is_seed_state(variable)
    ]


def _is_seed_state(variable) -> bool:
    return variable.path.endswith("seed_generator_state")


def set_state(model, weights: tuple, optimizer_state: tuple | None) -> None:
    """Load a network (and the optimizer's state, when given) into ``model``."""
    for variable, value in zip(network_variables(model), weights, strict=True):
        variable.assign(value)
    if optimizer_state is None:
        return
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    iterations, *slots = optimizer_state
    optimizer.iterations.assign(iterations)
    slot_variables = [v for v in optimizer.variables if v is not optimizer.iterations]
    slot_variables = slot_variables[1:]  # the learning rate is not state
    for variable, value in zip(slot_variables, slots, strict=True):
        variable.assign(value)


def get_state(model) -> tuple[tuple, tuple]:
    """The model's network and optimizer state, as host arrays."""
    weights = tuple(host_array(v) for v in network_variables(model))
    optimizer = model.optimizer
    slots = [
        host_array(v)
        for v in optimizer.variables
        if v is not optimizer.iterations and v is not optimizer._learning_rate
    ]
    iterations = np.asarray(host_array(optimizer.iterations), np.int64)
    return weights, (iterations, *slots)


def keras_model(
    network: NetworkSpec,
    optimizer: OptimizerSpec,
    weights: tuple,
    optimizer_state: tuple,
    learning_rate: float,
    l2: float,
) -> keras.Sequential:
    """A compiled Keras copy of a fitted network, with its optimizer state.

    Compiled with the loss and L2 penalty it was trained with, so that
    ``model.fit`` continues the same objective.
    """
    model = build_model(network, iter(range(1, 1 + len(network.layers))), l2=l2)
    if network.out_activation == "softmax":
        loss, weight = keras.losses.CategoricalCrossentropy(), 1.0
    else:
        loss_class, weight = _KERAS_LOSSES[optimizer.loss]
        loss = loss_class()
        if optimizer.loss == "log_loss":
            weight *= network.n_outputs
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate),
        loss=loss,
        loss_weights=weight,
    )
    set_state(model, weights, optimizer_state)
    return model


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
