"""The training loop: reproducible shuffling, one ``model.fit`` per chunk of epochs.

Keras shuffles with TensorFlow's unseeded ``tf.random.shuffle`` or with NumPy's
global RNG (other backends), so ``model.fit(shuffle=True)`` can be neither
reproducible nor free of global side effects. Shuffling happens here instead,
with the estimator's own generator: the rows of many epochs are laid out in
advance as one stream of reshuffled passes over the data, and Keras reads it in
order (``shuffle=False``) with ``steps_per_epoch`` set, so the compiled train
step runs epoch after epoch without Python work per batch.

Every epoch is ``ceil(n_samples / batch_size)`` full batches. A pass that does
not fill its last batch lends the remaining rows from the next reshuffled pass,
so batches never shrink (BatchNorm statistics of a 1-row batch are useless) and
every row is seen once per pass.
"""

from __future__ import annotations

import math
import sys
import time

import keras
import numpy as np
from scipy import sparse

# Upper bound on the bytes of one laid-out chunk of epochs (X rows, float32).
CHUNK_BYTES = 64 * 2**20


class RowStream:
    """An endless stream of row indices: passes over ``range(n)``, reshuffled each pass."""

    def __init__(self, n_samples: int, rng: np.random.Generator, shuffle: bool):
        self.n_samples = n_samples
        self.rng = rng
        self.shuffle = shuffle
        self._rest = np.empty(0, dtype=np.intp)

    def take(self, count: int) -> np.ndarray:
        parts = [self._rest]
        have = self._rest.size
        while have < count:
            order = (
                self.rng.permutation(self.n_samples)
                if self.shuffle
                else np.arange(self.n_samples)
            )
            parts.append(order)
            have += order.size
        stream = np.concatenate(parts)
        self._rest = stream[count:]
        return stream[:count]


class EpochMonitor(keras.callbacks.Callback):
    """Records each epoch's loss, stops on divergence, prints progress when asked."""

    def __init__(self, max_epochs: int, first_epoch: int, verbose: int):
        super().__init__()
        self.max_epochs = max_epochs
        self.first_epoch = first_epoch
        self.verbose = verbose
        self.losses: list[float] = []
        self.diverged_at: int | None = None
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        loss = float(logs["loss"])
        self.losses.append(loss)
        if self.verbose:
            elapsed = time.perf_counter() - self._start
            width = len(str(self.max_epochs))
            print(
                f"Epoch {epoch + 1:>{width}}/{self.max_epochs}"
                f"  loss: {loss:.6g}  elapsed: {elapsed:.2f}s",
                file=sys.stdout,
                flush=True,
            )
        if not math.isfinite(loss):
            self.diverged_at = epoch + 1
            self.model.stop_training = True


def run_epochs(
    model: keras.Model,
    X,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    *,
    batch_size: int,
    n_epochs: int,
    first_epoch: int,
    stream: RowStream,
    verbose: int,
) -> EpochMonitor:
    """Train ``model`` for ``n_epochs`` epochs; return the monitor with the curve.

    ``X`` is a float32 array or a scipy sparse matrix (densified one chunk at a
    time, so memory stays bounded by ``CHUNK_BYTES``).
    """
    n_samples, n_features = X.shape
    steps_per_epoch = math.ceil(n_samples / batch_size)
    rows_per_epoch = steps_per_epoch * batch_size
    epochs_per_chunk = max(1, CHUNK_BYTES // (rows_per_epoch * max(n_features, 1) * 4))
    last_epoch = first_epoch + n_epochs
    monitor = EpochMonitor(last_epoch, first_epoch, verbose)

    epoch = first_epoch
    while epoch < last_epoch and monitor.diverged_at is None:
        chunk = min(epochs_per_chunk, last_epoch - epoch)
        rows = stream.take(chunk * rows_per_epoch)
        X_chunk = X[rows]
        if sparse.issparse(X_chunk):
            X_chunk = X_chunk.toarray()
        model.fit(
            X_chunk,
            y[rows],
            sample_weight=None if sample_weight is None else sample_weight[rows],
            batch_size=batch_size,
            epochs=epoch + chunk,
            initial_epoch=epoch,
            steps_per_epoch=steps_per_epoch,
            shuffle=False,
            verbose=0,
            callbacks=[monitor],
        )
        epoch += chunk
    return monitor
