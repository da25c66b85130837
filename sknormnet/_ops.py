"""The training math, in Keras' backend-agnostic ops: one forward pass and the loss.

Every training path computes the same objective from the same formulas:

- the forward pass in training mode (BatchNorm on batch statistics, Dropout
  from random bits drawn by the fit's own generator), from the raw output
  layer (a classifier's logits, a Poisson regressor's log-mean);
- the per-row loss on those raw outputs, computed as the log-sum-exp and
  softplus forms that stay finite when probabilities saturate;
- Keras' reduction (the weighted sum over the batch size) plus the L2 penalty.

The backend engines differentiate and loop over these functions; the
generic Keras path wraps the loss in a ``keras.losses.Loss``.
"""

from __future__ import annotations

import keras
from keras import ops

from ._spec import BATCHNORM_EPSILON, DROPOUT_BITS, NetworkSpec

_BITS_RANGE = 2**DROPOUT_BITS

_KERAS_ACTIVATIONS = {
    "identity": lambda x: x,
    "logistic": ops.sigmoid,
    "tanh": ops.tanh,
    "relu": ops.relu,
    "elu": ops.elu,
    "selu": ops.selu,
    "gelu": lambda x: ops.gelu(x, approximate=False),
    "swish": ops.silu,
}


def dropout_threshold(rate: float) -> int:
    """The bit value below which a unit is dropped."""
    return round(rate * _BITS_RANGE)


def dropout_masks(spec: NetworkSpec, bits):
    """The Dropout layers' masks, scaled by ``1 / (1 - rate)``, side by side.

    ``bits`` are uint16 of shape ``(..., sum(spec.dropout_units()))``; the
    masks have the same shape, in float32: one step's inside a compiled
    loop (XLA fuses them with the step), a whole chunk's at once in
    TensorFlow's plain graph.
    """
    masks, offset = [], 0
    for layer, width in zip(spec.dropout_layers, spec.dropout_units(), strict=True):
        keep = bits[..., offset : offset + width] >= dropout_threshold(layer.rate)
        masks.append(ops.cast(keep, "float32") * (1.0 / (1.0 - layer.rate)))
        offset += width
    if not masks:
        return ops.cast(bits, "float32")
    return ops.concatenate(masks, axis=-1)


def batch_normalization(h, gamma, beta, moving_mean, moving_variance, momentum):
    """Training-mode BatchNorm: ``(output, new moving mean, new moving variance)``."""
    mean, variance = ops.moments(h, axes=[0])
    h = (h - mean) * ops.rsqrt(variance + BATCHNORM_EPSILON)
    if gamma is not None:
        h = h * gamma
    h = h + beta
    return (
        h,
        moving_mean * momentum + mean * (1.0 - momentum),
        moving_variance * momentum + variance * (1.0 - momentum),
    )


def forward_train(spec: NetworkSpec, weights, x, masks):
    """The raw output (before the output activation) of a training step.

    ``weights`` holds one tensor per ``spec.variables()``; ``masks`` is the
    step's ``dropout_masks``. Returns ``(raw, moving)``: the output, and the
    new BatchNorm moving statistics, one tensor per non-trainable variable in
    order.
    """
    values = {}
    for var, tensor in zip(spec.variables(), weights, strict=True):
        values[(var.layer, var.name)] = tensor
    momentum = spec.batchnorm_momentum
    moving = []
    offset = 0
    h = x
    for layer in spec.layers[:-1]:
        if layer.kind == "dense":
            h = dense_product(h, values[(layer.name, "kernel")])
            if layer.use_bias:
                h = h + values[(layer.name, "bias")]
            if layer.activation:
                h = _KERAS_ACTIVATIONS[layer.activation](h)
        elif layer.kind == "batchnorm":
            h, mean, variance = batch_normalization(
                h,
                values.get((layer.name, "gamma")),
                values[(layer.name, "beta")],
                values[(layer.name, "moving_mean")],
                values[(layer.name, "moving_variance")],
                momentum,
            )
            moving += [mean, variance]
        elif layer.kind == "activation":
            h = _KERAS_ACTIVATIONS[layer.activation](h)
        else:  # dropout
            width = h.shape[-1]
            h = h * masks[:, offset : offset + width]
            offset += width
    output = spec.layers[-1]
    h = (
        dense_product(h, values[(output.name, "kernel")])
        + values[(output.name, "bias")]
    )
    return h, moving


def dense_product(h, kernel):
    """``h @ kernel``; a kernel of shape ``(members, fan_in, fan_out)`` multiplies
    each member's slice of ``h``'s columns by its own matrix.

    The members go first for one batched product: an ``einsum`` with the
    members in the middle trained the members' network about 1.7 times
    slower on JAX (and no faster on TensorFlow) when this was written.
    """
    if len(kernel.shape) == 2:
        return ops.matmul(h, kernel)
    members, fan_in, fan_out = kernel.shape
    split = ops.transpose(ops.reshape(h, (-1, members, fan_in)), (1, 0, 2))
    product = ops.transpose(ops.matmul(split, kernel), (1, 0, 2))
    return ops.reshape(product, (-1, members * fan_out))


def per_row_loss(loss: str, out_activation: str, raw, y):
    """Each row's loss from the raw outputs, in the estimators' scaling.

    'squared_error' is half the mean squared error over the outputs (as
    MLPRegressor), 'absolute_error' and 'huber' (delta 1) are means over the
    outputs; 'poisson' is the half Poisson deviance summed over the outputs,
    with a log link (as MLPRegressor); 'log_loss' is the cross-entropy summed
    over the outputs (sigmoid) or classes (softmax), as MLPClassifier.
    """
    if loss == "squared_error":
        return 0.5 * ops.mean(ops.square(raw - y), axis=-1)
    if loss == "absolute_error":
        return ops.mean(ops.abs(raw - y), axis=-1)
    if loss == "huber":
        size = ops.abs(raw - y)
        quadratic = ops.minimum(size, 1.0)
        return ops.mean(0.5 * ops.square(quadratic) + (size - quadratic), axis=-1)
    if loss == "poisson":
        safe = ops.where(y > 0, y, ops.ones_like(y))
        y_log_y = ops.where(y > 0, y * ops.log(safe), ops.zeros_like(y))
        return ops.sum(ops.exp(raw) - y * raw + y_log_y - y, axis=-1)
    if loss == "log_loss" and out_activation == "softmax":
        return ops.logsumexp(raw, axis=-1) - ops.sum(y * raw, axis=-1)
    if loss == "log_loss":  # sigmoid outputs: softplus form of the cross-entropy
        return ops.sum(ops.softplus(raw) - y * raw, axis=-1)
    raise AssertionError(loss)  # pragma: no cover - validated by the estimator


def member_loss(loss: str, out_activation: str, members: int, raw, y):
    """Each row's loss; with members (their raw outputs side by side), the
    mean of the members' losses: each member trains as a network of its own,
    on the same batches."""
    if members == 1:
        return per_row_loss(loss, out_activation, raw, y)
    split = ops.reshape(raw, (-1, members, ops.shape(y)[-1]))
    rows = per_row_loss(loss, out_activation, split, ops.expand_dims(y, 1))
    return ops.mean(rows, axis=-1)


def objective(spec: NetworkSpec, loss: str, raw, y, sample_weight, weights, l2):
    """The loss a training step minimizes: weighted data loss plus L2 penalty.

    Keras' 'sum_over_batch_size' reduction: the weighted sum over the rows
    divided by the batch size. The penalty is ``l2 * sum(kernel ** 2)``;
    without ``weights``, the data loss alone.
    """
    rows = member_loss(loss, spec.out_activation, spec.members, raw, y)
    data = ops.sum(rows * sample_weight) / ops.cast(ops.shape(rows)[0], rows.dtype)
    if weights is None:  # the caller adds the penalty
        return data
    return data + l2 * penalty_sum(spec, weights)


def penalty_sum(spec: NetworkSpec, weights):
    """The sum of the squared Dense kernels (what L2 regularization penalizes)."""
    total = 0.0
    for var, tensor in zip(spec.variables(), weights, strict=True):
        if var.name == "kernel":
            total = total + ops.sum(ops.square(tensor))
    return total


@keras.saving.register_keras_serializable(package="sknormnet")
class RawOutputLoss(keras.losses.Loss):
    """``member_loss`` as a Keras loss, for the Keras ``Model.fit`` path.

    The model it trains ends with a linear output layer (the raw outputs,
    each member's side by side); Keras applies the sample weights and the
    'sum_over_batch_size' reduction.
    """

    def __init__(self, loss: str, out_activation: str, members: int = 1):
        super().__init__(name=loss, reduction="sum_over_batch_size")
        self.loss = loss
        self.out_activation = out_activation
        self.members = members

    def call(self, y_true, y_pred):
        return member_loss(self.loss, self.out_activation, self.members, y_pred, y_true)

    def get_config(self):
        return {
            "loss": self.loss,
            "out_activation": self.out_activation,
            "members": self.members,
        }


def mean_loss(loss: str, out_activation: str, raw, y, sample_weight) -> float:
    """The data loss of NumPy raw outputs, reduced as in training (a float).

    For validation data: the same formulas as the training objective.
    """
    rows = ops.convert_to_numpy(per_row_loss(loss, out_activation, raw, y))
    weighted = rows if sample_weight is None else rows * sample_weight
    return float(weighted.sum() / len(rows))
