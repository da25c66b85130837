"""Training: a network from its specs, data and carried-over state to a result.

``train`` is the whole fit loop. It takes frozen inputs (the ``NetworkSpec``
and ``OptimizerSpec``, the starting weights and optimizer state, the data,
the rules) and returns a ``TrainingResult``; it writes to no estimator, so a
fit that fails anywhere leaves nothing half-done behind.

Rows are shuffled here, with the fit's own generator (Keras shuffles with
global or unseeded RNGs): each epoch is ``ceil(n_samples / batch_size)`` full
batches read from a stream of reshuffled passes over the rows, so batches
never shrink (BatchNorm statistics of a 1-row batch are useless) and every
row is seen once per pass. Dropout draws its random bits from the same
generator, so a fixed ``random_state`` gives the same masks on every backend.

Each epoch goes to a *trainer* (``_engines``): a backend engine, which runs
batches in chunks of compiled steps, or Keras' own ``Model.fit`` when user
callbacks need it. ``EpochMonitor`` then does MLPRegressor's end-of-epoch
work: loss curve, divergence check, validation score, stopping rule,
learning-rate schedule, progress output.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
from scipy import sparse

from ._spec import DROPOUT_BITS, NetworkSpec, OptimizerSpec

# Upper bound on the bytes of one chunk of batches laid out for a trainer
# (X densified, y, weights, dropout bits); one batch when a batch is larger.
CHUNK_BYTES = 32 * 2**20
# JAX uses a NumPy array's buffer in place when its data start on a multiple
# of this many bytes (XLA's alignment on CPU) and copies any other array first
ALIGNMENT = 64
# 'adaptive' stops once the learning rate would fall below this (MLPRegressor's).
MIN_ADAPTIVE_LEARNING_RATE = 1e-6
# A loss this many times the first batch's loss (of the call) has diverged.
DIVERGENCE_FACTOR = 1e4


class Epoch(NamedTuple):
    """One epoch's batches: which rows, and what each row counts for.

    An epoch is one pass over the data, reshuffled, in ``ceil(n / batch_size)``
    full batches. When the pass does not fill the last batch, the batch is
    completed with rows of the same pass drawn again, for BatchNorm's batch
    statistics only: they count zero in the loss and its gradient, and the
    pass's own rows of that batch count ``batch_size / k`` each, so that the
    batch's loss is their mean (a batch of ``k`` rows, as MLPRegressor's last
    batch). Every row is trained on exactly once per epoch, so the epoch's
    loss (the mean over the pass) does not jitter with rows that a pass
    counted twice or missed -- the stopping rule compares it with ``tol``.
    """

    rows: np.ndarray  # batch after batch, steps * batch_size indices
    row_weights: np.ndarray  # float32 factor of each row's loss (1, B/k or 0)
    step_rows: np.ndarray  # how many of the pass's rows each batch holds

    def weights(self, part: slice, sample_weight: np.ndarray | None) -> np.ndarray:
        """The loss weight of each row in ``rows[part]``: its factor in this
        epoch times its ``sample_weight``."""
        weights = self.row_weights[part]
        if sample_weight is not None:
            weights = weights * sample_weight[self.rows[part]]
        return weights


def epoch_steps(n_samples: int, batch_size: int) -> int:
    """The batches of one epoch: ``ceil(n_samples / batch_size)``."""
    return -(-n_samples // batch_size)


def plan_epoch(
    n_samples: int, batch_size: int, rng: np.random.Generator, shuffle: bool
) -> Epoch:
    """The rows of one epoch over ``n_samples`` rows (``batch_size <= n_samples``)."""
    order = rng.permutation(n_samples) if shuffle else np.arange(n_samples)
    steps = epoch_steps(n_samples, batch_size)
    step_rows = np.full(steps, batch_size, np.int64)
    row_weights = np.ones(steps * batch_size, np.float32)
    last = n_samples - (steps - 1) * batch_size  # the pass's rows in the last batch
    if last < batch_size:
        step_rows[-1] = last
        row_weights[n_samples - last : n_samples] = batch_size / last
        row_weights[n_samples:] = 0.0
        order = np.concatenate([order, order[: batch_size - last]])
    return Epoch(order, row_weights, step_rows)


@dataclass
class TrainingState:
    """What carries over between warm-started fits and ``partial_fit`` calls."""

    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    validation_losses: list = field(default_factory=list)
    best_loss: float = math.inf
    best_validation_score: float = -math.inf
    no_improvement_count: int = 0
    t: int = 0
    learning_rate: float | None = None  # the schedule's current rate

    def to_builtins(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_builtins(cls, data: dict) -> TrainingState:
        return cls(**data)

    def copy(self) -> TrainingState:
        return replace(
            self,
            loss_curve=list(self.loss_curve),
            validation_scores=list(self.validation_scores),
            validation_losses=list(self.validation_losses),
        )


@dataclass(frozen=True)
class TrainingData:
    """The training rows (float32, X dense or CSR) and the validation scorer.

    ``validate`` maps the network's weights to ``(validation_loss, score)``.
    """

    X: object
    y: np.ndarray
    sample_weight: np.ndarray | None
    validate: Callable | None = None


@dataclass(frozen=True)
class TrainingRules:
    """How long to train, how to schedule the learning rate, when to stop."""

    batch_size: int
    max_epochs: int
    shuffle: bool
    l2: float  # factor of the sum of squared kernels in the objective
    tol: float
    averaging: float  # momentum of the weights' average over epochs; 0: none
    n_iter_no_change: float
    use_validation: bool  # stop on the validation score (early_stopping)
    incremental: bool  # partial_fit: no stopping rule
    learning_rate: str  # 'constant', 'invscaling', 'adaptive'
    learning_rate_init: float
    power_t: float
    verbose: int

    @property
    def epochs(self) -> int:
        """The most epochs one call trains (``partial_fit``: one)."""
        return 1 if self.incremental else self.max_epochs


@dataclass(frozen=True)
class TrainingResult:
    weights: tuple
    optimizer_state: tuple
    state: TrainingState
    epochs_run: int
    converged: bool  # a stopping rule ended training before max_epochs
    diverged_at: int | None  # the epoch whose loss diverged, if any
    trainer_model: object = None  # the Keras model user callbacks saw, if any


def train(
    network: NetworkSpec,
    optimizer: OptimizerSpec,
    weights: tuple,
    optimizer_state: tuple,
    data: TrainingData,
    rules: TrainingRules,
    state: TrainingState,
    rng: np.random.Generator,
    callbacks: list,
) -> TrainingResult:
    """Train from ``weights``/``optimizer_state``; return the trained state.

    ``state`` (the curves and counters so far) is copied, not modified.
    """
    from ._engines import open_trainer

    state = state.copy()
    if state.learning_rate is None or not rules.incremental:
        state.learning_rate = rules.learning_rate_init
    n_samples = data.X.shape[0]
    monitor = EpochMonitor(state, rules, n_samples, data.validate)
    with open_trainer(
        network, optimizer, weights, optimizer_state, data, rules, rng, callbacks
    ) as trainer:
        if rules.use_validation:
            monitor.best_weights = weights if state.loss_curve else None
        for _ in range(rules.epochs):
            epoch = plan_epoch(n_samples, rules.batch_size, rng, rules.shuffle)
            rates = np.full(len(epoch.step_rows), state.learning_rate, np.float32)
            losses = trainer.run_epoch(epoch, rates, len(state.loss_curve))
            # the mean over the pass's rows, as MLPRegressor's loss_curve_ (a
            # callback may have stopped the epoch early: over the rows trained)
            counted = epoch.step_rows[: len(losses)]
            mean = float(np.dot(losses, counted) / counted.sum())
            monitor.end_epoch(float(losses[0]), mean, trainer.weights)
            if monitor.stopped or trainer.stop_requested:
                break
        trainer.finish()
        weights, optimizer_state = trainer.weights(), trainer.optimizer_state()
        trainer_model = trainer.model
    if rules.use_validation and monitor.best_weights is not None:
        weights = monitor.best_weights
    elif monitor.average is not None:
        weights = monitor.average
    return TrainingResult(
        weights=weights,
        optimizer_state=optimizer_state,
        state=state,
        epochs_run=monitor.epochs_run,
        converged=monitor.converged or trainer.stop_requested,
        diverged_at=monitor.diverged_at,
        trainer_model=trainer_model,
    )


class EpochMonitor:
    """End-of-epoch bookkeeping: curves, divergence, stopping, schedules, progress.

    MLPRegressor's rules: the no-improvement counter compares the training
    loss (or, with ``use_validation``, the validation score) with the best so
    far by ``tol``; past ``n_iter_no_change`` epochs training stops, or the
    'adaptive' schedule divides the learning rate by 5 and carries on.
    """

    def __init__(
        self,
        state: TrainingState,
        rules: TrainingRules,
        rows_per_epoch: int,
        validate: Callable | None,
    ):
        self.state = state
        self.rules = rules
        self.rows_per_epoch = rows_per_epoch
        self.validate = validate
        self.epochs_run = 0
        self.diverged_at: int | None = None
        self.converged = False
        self.best_weights: tuple | None = None
        self.average: tuple | None = None  # the weights' average over epochs
        self._reference: float | None = None
        self._start = time.perf_counter()

    @property
    def stopped(self) -> bool:
        return self.converged or self.diverged_at is not None

    def end_epoch(self, first_loss: float, loss: float, read_weights) -> None:
        state, rules = self.state, self.rules
        self.epochs_run += 1
        state.t += self.rows_per_epoch
        state.loss_curve.append(loss)
        if self._reference is None:
            self._reference = abs(first_loss)
        if not math.isfinite(loss) or loss > DIVERGENCE_FACTOR * self._reference:
            self.diverged_at = len(state.loss_curve)
            self._print(loss)
            return

        improved = loss < state.best_loss - rules.tol
        state.best_loss = min(state.best_loss, loss)
        if rules.averaging:
            self._average(read_weights())
        if self.validate is not None:
            weights = self.average if rules.averaging else read_weights()
            val_loss, val_score = self.validate(weights)
            state.validation_losses.append(val_loss)
            state.validation_scores.append(val_score)
            if rules.use_validation:
                improved = val_score >= state.best_validation_score + rules.tol
                if val_score > state.best_validation_score:
                    self.best_weights = weights
            state.best_validation_score = max(state.best_validation_score, val_score)
        state.no_improvement_count = 0 if improved else state.no_improvement_count + 1
        self._print(loss)
        if rules.learning_rate == "invscaling":
            state.learning_rate = rules.learning_rate_init / (
                (state.t + 1) ** rules.power_t
            )
        if rules.incremental or state.no_improvement_count <= rules.n_iter_no_change:
            return
        if rules.learning_rate == "adaptive":
            if state.learning_rate <= MIN_ADAPTIVE_LEARNING_RATE:
                self._stop("Learning rate too small. Stopping.")
                return
            state.learning_rate /= 5.0
            state.no_improvement_count = 0
            if rules.verbose:
                print(f"Setting learning rate to {state.learning_rate:g}", flush=True)
            return
        what = "Validation score" if rules.use_validation else "Training loss"
        self._stop(
            f"{what} did not improve more than tol={rules.tol:g} for "
            f"{rules.n_iter_no_change} consecutive epochs. Stopping."
        )

    def _average(self, weights: tuple) -> None:
        """Fold this epoch's weights into their exponential moving average."""
        if self.average is None:
            self.average = weights
            return
        a = self.rules.averaging
        self.average = tuple(
            a * mean + (1.0 - a) * w
            for mean, w in zip(self.average, weights, strict=True)
        )

    def _stop(self, message: str) -> None:
        self.converged = True
        if self.rules.verbose:
            print(message, flush=True)

    def _print(self, loss: float) -> None:
        """MLPRegressor's progress line, with the validation figures and time."""
        if not self.rules.verbose:
            return
        state = self.state
        line = f"Iteration {len(state.loss_curve)}, loss = {loss:.8f}"
        if self.validate is not None and len(state.validation_losses) == len(
            state.loss_curve
        ):
            line += (
                f", validation loss = {state.validation_losses[-1]:.8f}"
                f", validation score = {state.validation_scores[-1]:.6f}"
            )
        print(f"{line} ({time.perf_counter() - self._start:.2f} s)", flush=True)


class EngineTrainer:
    """Feeds an epoch's batches to a backend engine's runner, chunk by chunk.

    A chunk is as many batches as fit in ``CHUNK_BYTES`` (densified X, y,
    weights and dropout bits), so sparse X is densified a chunk at a time and
    memory stays bounded whatever the number of rows. Runners with fixed
    chunk shapes (``runner.pads``) get chunks padded to one of a few lengths.
    """

    model = None  # no Keras model: user callbacks go to the Keras path
    stop_requested = False

    def __init__(self, runner, network: NetworkSpec, data: TrainingData, rules, rng):
        runner.plan(rules.epochs * epoch_steps(data.X.shape[0], rules.batch_size))
        self.runner = runner
        self.data = data
        self.batch_size = rules.batch_size
        self.l2 = rules.l2
        self.rng = rng
        self.n_bits = sum(network.dropout_units())
        n_features = data.X.shape[1]
        step_bytes = self.batch_size * (
            4 * (n_features + data.y.shape[1] + 1) + 2 * self.n_bits
        )
        self.chunk_steps = max(1, CHUNK_BYTES // step_bytes)

    def run_epoch(self, epoch: Epoch, rates: np.ndarray, number: int) -> np.ndarray:
        """Train one epoch; return each step's loss."""
        B, data, rows = self.batch_size, self.data, epoch.rows
        n_steps = len(rates)
        losses = []
        for start in range(0, n_steps, self.chunk_steps):
            k = min(self.chunk_steps, n_steps - start)
            capacity = _padded(k, self.chunk_steps) if self.runner.pads else k
            part = slice(start * B, (start + k) * B)
            index = rows[part]
            xs = _batches(data.X, index, capacity, B)
            ys = _batches(data.y, index, capacity, B)
            sws = _batches(epoch.weights(part, data.sample_weight), None, capacity, B)
            # drawn for the k real steps only: the masks do not depend on padding
            bits = self.rng.integers(
                0, 2**DROPOUT_BITS, (k, B, self.n_bits), dtype=np.uint16
            )
            if capacity > k:
                padding = np.zeros((capacity - k, B, self.n_bits), np.uint16)
                bits = np.concatenate([bits, padding])
            chunk_rates = np.zeros(capacity, np.float32)  # padded steps: rate 0
            chunk_rates[:k] = rates[start : start + k]
            losses.append(self.runner.run(xs, ys, sws, bits, chunk_rates, self.l2, k))
        return np.concatenate(losses).astype(np.float64)

    def weights(self) -> tuple:
        return self.runner.weights()

    def optimizer_state(self) -> tuple:
        return self.runner.optimizer_state()

    def finish(self) -> None:
        """Nothing to tell: no user callbacks on this path."""


def _padded(k: int, limit: int) -> int:
    """``k`` rounded up to the next of 8 shapes per octave (at most ``limit``).

    The shapes are the multiples of ``2**(b - 3)`` between ``2**(b - 1)`` and
    ``2**b``: a few compiled shapes serve every epoch length, and padding
    adds at most an eighth of the steps to a chunk.
    """
    granule = 1 << max(0, (k - 1).bit_length() - 3)
    return min(limit, -(-k // granule) * granule)


def _batches(values, rows, capacity: int, batch_size: int) -> np.ndarray:
    """``values[rows]`` (``rows`` None: all of them) as ``capacity`` batches,
    zero-padded at the end.

    Sparse rows are densified straight into the batches, dense ones gathered
    into them, in a buffer aligned so that JAX trains on it in place: the
    chunk is never copied whole (NumPy's own large arrays are misaligned by
    16 bytes, and JAX copies them first).
    """
    out = _aligned_zeros((capacity, batch_size, *values.shape[1:]))
    filled = out.reshape(-1, *values.shape[1:])[
        : values.shape[0] if rows is None else len(rows)
    ]
    if rows is None:
        filled[...] = values
    elif sparse.issparse(values):
        values[rows].toarray(out=filled)
    else:  # any float dtype, cast as it is written
        np.take(values, rows, axis=0, out=filled)
    return out


def _aligned_zeros(shape: tuple) -> np.ndarray:
    """float32 zeros whose data start on a multiple of ``ALIGNMENT`` bytes."""
    size = 4 * math.prod(shape)
    raw = np.zeros(size + ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start : start + size].view(np.float32).reshape(shape)
