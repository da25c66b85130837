"""The Keras path: ``Model.fit`` on a model built for this fit alone.

Used when the fit has user callbacks (Keras callbacks expect Keras' training
loop and a model of their own: ``callback.model`` is this fit's model, and
whatever a callback changes on it, rates, trainability, weights, acts on this
fit only) and on backends without an engine of their own. It trains the same
network from the same specs as the engines (same initial weights, batches,
loss, L2 penalty and update rule); Dropout draws its masks from Keras'
Dropout layers, seeded from the fit's generator. One ``Model.fit`` call per
epoch; batches are densified one at a time (``keras.utils.PyDataset``).
"""

from __future__ import annotations

import keras
import numpy as np
from scipy import sparse

from ._model import build_model, get_state, make_optimizer, set_state
from ._ops import RawOutputLoss


class KerasTrainer:
    """Trains one fit's Keras model epoch by epoch."""

    def __init__(
        self, network, optimizer, weights, optimizer_state, data, rules, rng, callbacks
    ):
        seeds = iter(
            rng.integers(0, 2**31 - 1, size=len(network.dropout_layers)).tolist()
        )
        model = build_model(network, seeds, raw_output=True, l2=rules.l2)
        model.compile(
            optimizer=make_optimizer(optimizer, rules.learning_rate_init),
            loss=RawOutputLoss(optimizer.loss, network.out_activation, network.members),
        )
        set_state(model, weights, optimizer_state)
        self.model = model
        self.data = data
        self.batch_size = rules.batch_size
        self.users = ForwardOnce(callbacks) if callbacks else None
        self.recorder = _EpochLosses()
        self.stop_requested = False

    def run_epoch(self, epoch, rates: np.ndarray, number: int) -> np.ndarray:
        """Train one epoch (a ``_train.Epoch``); return each step's loss."""
        self.model.optimizer.learning_rate = float(rates[0])
        callbacks = [self.users] if self.users else []
        callbacks.append(self.recorder)
        if np.ptp(rates) > 0:
            callbacks.append(_StepRates(rates))
        self.model.fit(
            _Batches(self.data, epoch, self.batch_size),
            initial_epoch=number,
            epochs=number + 1,
            shuffle=False,
            verbose=0,
            callbacks=callbacks,
        )
        self.stop_requested = bool(self.model.stop_training)
        return self.recorder.losses()

    def weights(self) -> tuple:
        return get_state(self.model)[0]

    def optimizer_state(self) -> tuple:
        return get_state(self.model)[1]

    def finish(self) -> None:
        if self.users:
            self.users.finish()


class _Batches(keras.utils.PyDataset):
    """An epoch's batches, each densified when Keras asks for it."""

    def __init__(self, data, epoch, batch_size: int):
        super().__init__()
        self.data = data
        self.epoch = epoch
        self.batch_size = batch_size

    def __len__(self) -> int:
        return len(self.epoch.rows) // self.batch_size

    def __getitem__(self, i: int):
        batch = slice(i * self.batch_size, (i + 1) * self.batch_size)
        index = self.epoch.rows[batch]
        X = self.data.X[index]
        X = X.toarray() if sparse.issparse(X) else X
        weights = self.epoch.weights(batch, self.data.sample_weight)
        return X, self.data.y[index], weights


class _EpochLosses(keras.callbacks.Callback):
    """Each step's loss, from the running mean Keras logs after every batch."""

    def on_epoch_begin(self, epoch, logs=None):
        self.means = []

    def on_train_batch_end(self, batch, logs=None):
        self.means.append(float(logs["loss"]))

    def losses(self) -> np.ndarray:
        # Keras' loss tracker: the mean over the batches so far, equal weights
        means = np.array(self.means, np.float64)
        totals = means * np.arange(1, len(means) + 1)
        return np.diff(totals, prepend=0.0)


class _StepRates(keras.callbacks.Callback):
    """Sets the learning rate of every step of the epoch."""

    def __init__(self, rates: np.ndarray):
        super().__init__()
        self.rates = rates

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = float(self.rates[batch])


class ForwardOnce(keras.callbacks.Callback):
    """Hands the user's callbacks one training run although ``fit`` runs per epoch.

    ``on_train_begin`` reaches them on the first epoch only and
    ``on_train_end`` only through ``finish()``; epoch hooks always; batch
    hooks only when a user callback defines them.
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
        for hook in self._BATCH_HOOKS:
            users = [
                cb
                for cb in self.callbacks
                if getattr(type(cb), hook)
                is not getattr(keras.callbacks.Callback, hook)
            ]
            if users:
                setattr(self, hook, self._forwarder(hook, users))

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
