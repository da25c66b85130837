"""The training loop: reproducible shuffling, one ``model.fit`` per chunk of epochs.

Keras shuffles with TensorFlow's unseeded ``tf.random.shuffle`` or with NumPy's
global RNG (other backends), so ``model.fit(shuffle=True)`` can be neither
reproducible nor free of global side effects. Shuffling happens here instead,
with the estimator's own generator: the rows of many epochs are laid out in
advance as one stream of reshuffled passes over the data, and Keras reads it in
order (``shuffle=False``) with ``steps_per_epoch`` set, so the compiled train
step runs epoch after epoch without Python work per batch. On JAX one call of
the train function runs a whole epoch (``steps_per_execution``, see
``_trainers``), unless a user callback has batch hooks.

Every epoch is ``ceil(n_samples / batch_size)`` full batches. A pass that does
not fill its last batch lends the remaining rows from the next reshuffled pass,
so batches never shrink (BatchNorm statistics of a 1-row batch are useless) and
every row is seen once per pass.

``TrainingMonitor`` runs at the end of each epoch and implements
MLPRegressor's stopping rules, learning-rate schedules and progress output.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np
from scipy import sparse

from ._model import get_weights
from ._trainers import set_steps_per_execution

# Upper bound on the bytes of one laid-out chunk of epochs (X, y and weights).
CHUNK_BYTES = 64 * 2**20
# 'adaptive' stops once the learning rate falls below this (as MLPRegressor).
MIN_ADAPTIVE_LEARNING_RATE = 1e-6
# 'adaptive' divides the learning rate after this many epochs without progress.
ADAPTIVE_PATIENCE = 2


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


@dataclass
class TrainingState:
    """What carries over between warm-started fits and ``partial_fit`` calls."""

    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    validation_losses: list = field(default_factory=list)
    best_loss: float = math.inf
    best_validation_score: float = -math.inf
    no_improvement_count: int = 0
    n_iter: int = 0
    t: int = 0


@dataclass
class StoppingRules:
    """The estimator's stopping and schedule parameters, as the monitor needs them."""

    max_epochs: int
    tol: float
    n_iter_no_change: int
    use_validation: bool  # stop on the validation score (early_stopping)
    incremental: bool  # partial_fit: one epoch, no stopping rule
    learning_rate: str  # 'constant', 'invscaling', 'adaptive'
    learning_rate_init: float
    power_t: float
    verbose: int


class TrainingMonitor(keras.callbacks.Callback):
    """End-of-epoch bookkeeping: curves, divergence, stopping, schedules, progress.

    ``validate`` (optional) maps the model to ``(validation_loss, validation_score)``.
    """

    def __init__(
        self,
        state: TrainingState,
        rules: StoppingRules,
        rows_per_epoch: int,
        validate: Callable | None = None,
    ):
        super().__init__()
        self.state = state
        self.rules = rules
        self.rows_per_epoch = rows_per_epoch
        self.validate = validate
        self.epochs_run = 0
        self.diverged_at: int | None = None
        self.converged = False
        self.stopped_by_callback = False
        self.best_weights: list | None = None
        self._start = time.perf_counter()
        self._adaptive_count = 0

    @property
    def stopped(self) -> bool:
        return (
            self.converged or self.stopped_by_callback or self.diverged_at is not None
        )

    def on_epoch_end(self, epoch, logs=None):
        state, rules = self.state, self.rules
        loss = float(logs["loss"])
        self.epochs_run += 1
        state.n_iter += 1
        state.t += self.rows_per_epoch
        state.loss_curve.append(loss)
        if not math.isfinite(loss):
            self.diverged_at = state.n_iter
            self.model.stop_training = True
            self._print(loss)
            return

        improved = loss < state.best_loss - rules.tol
        state.best_loss = min(state.best_loss, loss)
        if self.validate is not None:
            val_loss, val_score = self.validate(self.model)
            state.validation_losses.append(val_loss)
            state.validation_scores.append(val_score)
            if rules.use_validation:
                improved = val_score >= state.best_validation_score + rules.tol
                if val_score > state.best_validation_score:
                    self.best_weights = get_weights(self.model)
            state.best_validation_score = max(state.best_validation_score, val_score)
        state.no_improvement_count = 0 if improved else state.no_improvement_count + 1
        self._print(loss)
        # Runs after the user's callbacks (last in the list): a stop they asked
        # for must outlive this chunk's model.fit call.
        if self.model.stop_training and not self.stopped:
            self.stopped_by_callback = True
        self._update_learning_rate(improved)
        if rules.incremental:
            return
        if (
            rules.learning_rate != "adaptive"
            and state.no_improvement_count > rules.n_iter_no_change
        ):
            what = "Validation score" if rules.use_validation else "Training loss"
            self._stop(
                f"{what} did not improve more than tol={rules.tol:g} for "
                f"{rules.n_iter_no_change} consecutive epochs. Stopping."
            )

    def _update_learning_rate(self, improved: bool) -> None:
        rules = self.rules
        optimizer = self.model.optimizer
        if rules.learning_rate == "invscaling":
            optimizer.learning_rate = rules.learning_rate_init / (
                (self.state.t + 1) ** rules.power_t
            )
        elif rules.learning_rate == "adaptive":
            self._adaptive_count = 0 if improved else self._adaptive_count + 1
            if self._adaptive_count >= ADAPTIVE_PATIENCE:
                self._adaptive_count = 0
                new_rate = float(optimizer.learning_rate) / 5.0
                if new_rate < MIN_ADAPTIVE_LEARNING_RATE:
                    self._stop("Learning rate too small. Stopping.")
                else:
                    optimizer.learning_rate = new_rate
                    if rules.verbose:
                        print(f"Setting learning rate to {new_rate:g}", flush=True)

    def _stop(self, message: str) -> None:
        self.converged = True
        self.model.stop_training = True
        if self.rules.verbose:
            print(message, flush=True)

    def _print(self, loss: float) -> None:
        if not self.rules.verbose:
            return
        state = self.state
        width = len(str(self.rules.max_epochs))
        parts = [f"Epoch {state.n_iter:>{width}}", f"loss: {loss:.6g}"]
        if self.validate is not None and len(state.validation_losses) == len(
            state.loss_curve
        ):
            parts.append(f"val_loss: {state.validation_losses[-1]:.6g}")
            parts.append(f"val_score: {state.validation_scores[-1]:.4f}")
        parts.append(f"{time.perf_counter() - self._start:.2f}s")
        print("  ".join(parts), file=sys.stdout, flush=True)


def run_epochs(
    model: keras.Model,
    X,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    *,
    batch_size: int,
    n_epochs: int,
    stream: RowStream,
    monitor: TrainingMonitor,
    callbacks: list,
) -> None:
    """Train ``model`` for up to ``n_epochs`` epochs, until ``monitor`` stops it.

    ``X`` is a float32 array or a scipy sparse matrix (densified one chunk at a
    time, so memory stays bounded by ``CHUNK_BYTES``).
    """
    n_samples, n_features = X.shape
    steps_per_epoch = math.ceil(n_samples / batch_size)
    # A whole epoch per call of the train function, unless a callback wants
    # to hear about every batch.
    batch_hooks = any(getattr(cb, "has_batch_hooks", False) for cb in callbacks)
    set_steps_per_execution(model, 1 if batch_hooks else steps_per_epoch)
    rows_per_epoch = steps_per_epoch * batch_size
    # float32 bytes per laid-out row: X, y and the sample weight
    row_bytes = 4 * (n_features + y.shape[1] + 1)
    epochs_per_chunk = max(1, CHUNK_BYTES // (rows_per_epoch * row_bytes))

    first = monitor.state.n_iter
    done = 0
    while done < n_epochs and not monitor.stopped:
        chunk = min(epochs_per_chunk, n_epochs - done)
        rows = stream.take(chunk * rows_per_epoch)
        X_chunk = X[rows]
        if sparse.issparse(X_chunk):
            X_chunk = X_chunk.toarray()
        model.fit(
            X_chunk,
            y[rows],
            sample_weight=None if sample_weight is None else sample_weight[rows],
            batch_size=batch_size,
            initial_epoch=first + done,
            epochs=first + done + chunk,
            steps_per_epoch=steps_per_epoch,
            shuffle=False,
            verbose=0,
            callbacks=[*callbacks, monitor],
        )
        done += chunk
