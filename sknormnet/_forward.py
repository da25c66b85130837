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
    """Softmax over the last axis, shifted by its maximum so that exp never overflows."""
    x -= x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
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
    "exp": lambda x: np.exp(x, out=x),  # the Poisson output only (log link)
}


# Budget of one Monte-Carlo chunk's widest intermediate (passes x rows x units).
_MC_CHUNK_BYTES = 32 * 2**20


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


def forward_dropout_samples(
    X,
    coefs: list[np.ndarray],
    intercepts: list[np.ndarray],
    activations: list[str],
    dropout_rates: list[float],
    n_samples: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over ``n_samples`` passes with dropout active.

    ``dropout_rates[i]`` is the rate of the Dropout that follows layer ``i``'s
    activation; BatchNorm stays in inference mode (folded into ``coefs``).
    Each pass draws its own masks, as Keras' Dropout does in training
    (survivors scaled by ``1 / (1 - rate)``).

    All passes run at once: after the first Dropout the activations are a
    stack ``(n_samples, rows, units)``, multiplied by the next kernel as one
    ``(n_samples * rows, units)`` matrix (a single BLAS call rather than one
    per pass). Layers before the first Dropout are computed once per row and
    shared by every pass. The passes run in float32, the precision the
    network was trained in; the mean and standard deviation are taken in
    float64. Rows go in chunks that keep the widest stack within
    ``_MC_CHUNK_BYTES``.
    """
    n_rows = X.shape[0]
    n_outputs = coefs[-1].shape[1]
    kernels = [kernel.astype(np.float32) for kernel in coefs]
    biases = [bias.astype(np.float32) for bias in intercepts]
    widest = max(kernel.shape[1] for kernel in kernels)
    chunk = max(1, _MC_CHUNK_BYTES // (4 * n_samples * widest))
    mean = np.empty((n_rows, n_outputs))
    std = np.empty((n_rows, n_outputs))
    layers = list(zip(kernels, biases, activations, dropout_rates, strict=True))
    for start in range(0, n_rows, chunk):
        stop = min(start + chunk, n_rows)
        h = X[start:stop]
        h = h.astype(np.float32) if sparse.issparse(h) else np.asarray(h, np.float32)
        for kernel, bias, activation, rate in layers:
            if h.ndim == 3:  # one product for every pass
                passes, rows, _ = h.shape
                h = (h.reshape(passes * rows, -1) @ kernel).reshape(passes, rows, -1)
            else:
                h = np.asarray(h @ kernel)
            h += bias
            h = ACTIVATION_FUNCTIONS[activation](h)
            if rate > 0:
                shape = (n_samples, stop - start, kernel.shape[1])
                keep = rng.random(shape, dtype=np.float32) >= rate
                h = keep * (h * np.float32(1.0 / (1.0 - rate)))
        if h.ndim == 2:  # no Dropout anywhere: every pass is the same network
            h = np.broadcast_to(h, (n_samples, *h.shape))
        h = h.astype(np.float64)
        mean[start:stop] = h.mean(axis=0)
        std[start:stop] = h.std(axis=0)
    return mean, std
