"""NumPy forward pass of the folded (inference-mode) network.

``predict`` runs here rather than through Keras: no graph tracing, no per-call
framework overhead, float64 throughout, and no Keras import needed to predict.
``tests/test_forward.py`` checks it against ``model_(X, training=False)``.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.special import erf, expit

_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805


def _elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def _softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so that exp never overflows."""
    x -= x.max(axis=1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=1, keepdims=True)
    return x


# In-place where NumPy allows it: the arrays are the pass's own intermediates.
ACTIVATION_FUNCTIONS = {
    "identity": lambda x: x,
    "logistic": lambda x: expit(x, out=x),
    "tanh": lambda x: np.tanh(x, out=x),
    "relu": lambda x: np.maximum(x, 0, out=x),
    "elu": _elu,
    "selu": lambda x: (
        _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0)))
    ),
    "gelu": lambda x: 0.5 * x * (1.0 + erf(x / np.sqrt(2.0))),
    "swish": lambda x: x * expit(x),
    "softmax": _softmax,  # the multiclass output only
}


def forward(
    X,
    coefs: list[np.ndarray],
    intercepts: list[np.ndarray],
    activations: list[str],
) -> np.ndarray:
    """Output of the folded network for ``X`` (dense or scipy sparse), in float64."""
    h = X
    for kernel, bias, activation in zip(coefs, intercepts, activations, strict=True):
        if sparse.issparse(h):
            h = np.asarray(h @ kernel)
        else:
            h = np.asarray(h, dtype=np.float64) @ kernel
        h += bias
        h = ACTIVATION_FUNCTIONS[activation](h)
    return h
