"""What a fit trains, as frozen values: the network, the optimizer and their state.

``NetworkSpec`` is everything that shapes the network (its layers, input
width, BatchNorm settings); ``OptimizerSpec`` everything that shapes the
update rule (solver, its hyperparameters, the loss it minimizes). Both are
built once from the validated parameters, compare by value and hash, and are
the single answer to "can this fit continue that network?" (warm start,
``partial_fit``) and "can this compiled train step be reused?" (the engines'
caches). Nothing else keys either decision.

The trained network itself is a tuple of NumPy arrays in the order of
``NetworkSpec.variables`` (the order Keras gives the same layers), and the
optimizer state a tuple of arrays in the order of Keras' optimizer variables
(the step count, then each trainable variable's slots). Both are plain data:
they pickle, cross backends and rebuild a Keras model on demand.

This module does not import Keras.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import scipy.linalg

from ._names import SOLVER_OPTIONS, SOLVER_SLOTS
from ._plan import LayerSpec

# Keras' BatchNormalization epsilon (its default), used in training and folding.
BATCHNORM_EPSILON = 1e-3
# Dropout masks come from uint16 random bits drawn by the fit's generator: a
# unit is kept when its bits are at least round(rate * 2**16), so the rate is
# exact to 1/65536.
DROPOUT_BITS = 16


class Variable(NamedTuple):
    """One array of the network: its layer, its name within the layer, shape."""

    layer: str
    name: str
    shape: tuple[int, ...]
    trainable: bool


@dataclass(frozen=True)
class NetworkSpec:
    """Everything that shapes the network: layers in order and input width."""

    n_features: int
    layers: tuple[LayerSpec, ...]
    batchnorm_momentum: float

    @property
    def n_outputs(self) -> int:
        """The network's outputs (each member's, when it has members)."""
        return self.layers[-1].units // self.members

    @property
    def members(self) -> int:
        """How many independent networks side by side (1: a plain network)."""
        return self.layers[-1].members

    @property
    def out_activation(self) -> str:
        return self.layers[-1].activation

    @property
    def dropout_layers(self) -> tuple[LayerSpec, ...]:
        return tuple(layer for layer in self.layers if layer.kind == "dropout")

    def variables(self) -> tuple[Variable, ...]:
        """The network's arrays, layer by layer, as Keras creates them."""
        out: list[Variable] = []
        width = self.n_features
        for layer in self.layers:
            if layer.kind == "dense":
                k = layer.members
                shape = (
                    (width, layer.units)
                    if k == 1
                    else (k, width // k, layer.units // k)
                )
                out.append(Variable(layer.name, "kernel", shape, True))
                if layer.use_bias:
                    out.append(Variable(layer.name, "bias", (layer.units,), True))
                width = layer.units
            elif layer.kind == "batchnorm":
                if layer.scale:
                    out.append(Variable(layer.name, "gamma", (width,), True))
                out.append(Variable(layer.name, "beta", (width,), True))
                out.append(Variable(layer.name, "moving_mean", (width,), False))
                out.append(Variable(layer.name, "moving_variance", (width,), False))
        return tuple(out)

    def to_builtins(self) -> dict:
        """The spec as plain Python data (what a saved estimator holds)."""
        return {
            "n_features": self.n_features,
            "layers": [layer._asdict() for layer in self.layers],
            "batchnorm_momentum": self.batchnorm_momentum,
        }

    @classmethod
    def from_builtins(cls, data: dict) -> NetworkSpec:
        return cls(
            n_features=data["n_features"],
            layers=tuple(LayerSpec(**layer) for layer in data["layers"]),
            batchnorm_momentum=data["batchnorm_momentum"],
        )

    def dropout_units(self) -> tuple[int, ...]:
        """The width of each Dropout layer's input, in order."""
        units, width = [], self.n_features
        for layer in self.layers:
            if layer.kind == "dense":
                width = layer.units
            elif layer.kind == "dropout":
                units.append(width)
        return tuple(units)


@dataclass(frozen=True)
class OptimizerSpec:
    """Everything that shapes the update rule.

    ``options`` are the Keras optimizer's keyword arguments (learning rate
    excluded: it is an input of every step, so schedules and warm starts
    never need another compiled step). ``loss`` is the objective minimized.
    """

    solver: str
    options: tuple[tuple[str, Any], ...]
    loss: str

    def to_builtins(self) -> dict:
        return {
            "solver": self.solver,
            "options": [list(option) for option in self.options],
            "loss": self.loss,
        }

    @classmethod
    def from_builtins(cls, data: dict) -> OptimizerSpec:
        options = tuple(tuple(option) for option in data["options"])
        return cls(data["solver"], options, data["loss"])

    @property
    def slots(self) -> tuple[str, ...]:
        """The optimizer's per-variable state, in Keras' order."""
        return SOLVER_SLOTS[self.solver](dict(self.options))


def optimizer_spec(params: dict, loss: str) -> OptimizerSpec:
    """The ``OptimizerSpec`` of an estimator's parameters (``get_params()``).

    Values are normalised to plain Python types, so that ``momentum=0`` and
    ``momentum=0.0`` (or a NumPy float) are the same optimizer and reach
    Keras as floats.
    """
    solver = params["solver"]
    options = {}
    for keras_name, param in SOLVER_OPTIONS[solver].items():
        value = params[param]
        options[keras_name] = bool(value) if isinstance(value, bool) else float(value)
    if solver == "sgd" and options["momentum"] == 0:
        options["nesterov"] = False  # Nesterov's correction needs momentum
    return OptimizerSpec(solver, tuple(sorted(options.items())), loss)


def initial_weights(spec: NetworkSpec, rng: np.random.Generator) -> tuple:
    """A fresh network, initialized as MLPRegressor initializes its own.

    Every Dense layer's kernel and bias are drawn uniformly from
    ``±sqrt(6 / (fan_in + fan_out))`` (Glorot's bound; ``2`` instead of ``6``
    with a logistic hidden activation); BatchNorm starts as the identity.
    With members, each member is initialized as a network of its own: the
    fans are a member's (the first layer's outputs split between them).
    Drawn from the fit's own generator, so the initial network is the same on
    every backend.
    """
    factor = 2.0 if hidden_activation(spec) == "logistic" else 6.0
    weights = []
    bound = 0.0
    for var in spec.variables():
        if var.name == "kernel":
            fan_in, fan_out = var.shape[-2:]
            if len(var.shape) == 2:  # the first layer: every member's units
                fan_out //= spec.members
            bound = np.sqrt(factor / (fan_in + fan_out))
            weights.append(rng.uniform(-bound, bound, var.shape).astype(np.float32))
        elif var.name == "bias":  # drawn with its kernel's bound
            weights.append(rng.uniform(-bound, bound, var.shape).astype(np.float32))
        elif var.name in ("gamma", "moving_variance"):
            weights.append(np.ones(var.shape, np.float32))
        else:  # beta, moving_mean
            weights.append(np.zeros(var.shape, np.float32))
    return tuple(weights)


def hidden_activation(spec: NetworkSpec) -> str:
    """The hidden layers' activation (all hidden layers share one)."""
    for layer in spec.layers[:-1]:
        if layer.kind == "activation" or (layer.kind == "dense" and layer.activation):
            return layer.activation
    return "identity"


def initial_optimizer_state(spec: OptimizerSpec, network: NetworkSpec) -> tuple:
    """The optimizer's state before its first step: step count 0, zero slots."""
    trainable = [var for var in network.variables() if var.trainable]
    slots = [np.zeros(var.shape, np.float32) for var in trainable for _ in spec.slots]
    return (np.zeros((), np.int64), *slots)


def fold(
    spec: NetworkSpec, weights: tuple
) -> tuple[list[np.ndarray], list[np.ndarray], list[str], list[float]]:
    """The inference-mode network as a plain MLP, every BatchNorm folded away.

    In inference mode BatchNormalization is the affine map ``x * s + t`` with
    ``s = gamma / sqrt(moving_variance + epsilon)`` and
    ``t = beta - moving_mean * s``. A BatchNorm right behind a Dense layer
    (before its activation) is folded into that layer's columns; any other
    BatchNorm sits in front of the next Dense layer and is folded into its rows.
    Dropout is the identity at inference; its rate is kept, per folded layer,
    for stochastic (Monte-Carlo) passes.

    A Dense layer split into members becomes one block-diagonal kernel, and
    the members' outputs are averaged by the output layer (the mean of their
    raw outputs: a classifier's members average their logits).

    Returns ``coefs, intercepts, activations, dropout_rates`` in float64, one
    entry per Dense layer.
    """
    arrays: dict[str, dict[str, np.ndarray]] = {}
    for var, value in zip(spec.variables(), weights, strict=True):
        arrays.setdefault(var.layer, {})[var.name] = np.asarray(value, np.float64)

    coefs: list[np.ndarray] = []
    intercepts: list[np.ndarray] = []
    activations: list[str] = []
    rates: list[float] = []
    pending: tuple[np.ndarray, np.ndarray] | None = None  # affine before next Dense
    open_dense = False  # last Dense has no activation applied yet

    for layer in spec.layers:
        if layer.kind == "dense":
            kernel = arrays[layer.name]["kernel"]
            if kernel.ndim == 3:  # members side by side
                kernel = scipy.linalg.block_diag(*kernel)
            bias = arrays[layer.name].get("bias", np.zeros(kernel.shape[1]))
            if pending is not None:
                scale, shift = pending
                bias = shift @ kernel + bias
                kernel = scale[:, None] * kernel
                pending = None
            coefs.append(kernel)
            intercepts.append(bias)
            activations.append(layer.activation or "identity")
            rates.append(0.0)
            open_dense = layer.activation is None
        elif layer.kind == "batchnorm":
            values = arrays[layer.name]
            scale = values.get("gamma", 1.0) / np.sqrt(
                values["moving_variance"] + BATCHNORM_EPSILON
            )
            shift = values["beta"] - values["moving_mean"] * scale
            if open_dense:
                coefs[-1] = coefs[-1] * scale[None, :]
                intercepts[-1] = intercepts[-1] * scale + shift
            elif pending is None:
                pending = (scale, shift)
            else:
                pending = (pending[0] * scale, pending[1] * scale + shift)
        elif layer.kind == "activation":
            activations[-1] = layer.activation
            open_dense = False
        elif layer.kind == "dropout":
            rates[-1] = layer.rate
            open_dense = False
    if spec.members > 1:  # the output layer: the mean of the members' outputs
        k, n = spec.members, spec.n_outputs
        coefs[-1] = coefs[-1].reshape(-1, k, n).sum(axis=1) / k
        intercepts[-1] = intercepts[-1].reshape(k, n).mean(axis=0)
    return coefs, intercepts, activations, rates
