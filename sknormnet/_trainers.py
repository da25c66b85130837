"""Compiled trainer models, reused across fits of the same network.

Most of a small fit's cost is Keras tracing (TensorFlow) or compiling (JAX)
the train step, once per model object: about a second, against a few hundred
milliseconds for the training itself on the lesson's data sizes. Each fresh
Keras model also leaves ~5-10 MB behind in the backend after its traced
functions are gone. A grid search fits the same architecture for every fold,
so the package keeps a few compiled "trainer" models, keyed by everything
that shapes the compiled step, and trains in them: the estimator's own
``model_`` is loaded into the trainer (weights, BatchNorm statistics, dropout
seed states, optimizer state), trained there, and copied back.

The pool is small (``MAX_TRAINERS``), least-recently-used, and safe under
threads: a trainer is taken out of the pool while a fit uses it.

On JAX, each trainer also runs a whole epoch of steps per call of its train
function (``steps_per_execution``, set per fit by ``set_steps_per_execution``),
which saves Keras' per-batch dispatch. TensorFlow trainers run one step per
call: Keras bakes the count into the traced graph there.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager

import keras

from ._model import host_array

MAX_TRAINERS = 4

_pool: OrderedDict[Hashable, keras.Model] = OrderedDict()
_lock = threading.Lock()
# trainers whose train function reads steps_per_execution on every call
_multi_step: weakref.WeakSet = weakref.WeakSet()


@contextmanager
def trainer_for(
    key: Hashable, build: Callable[[], keras.Model]
) -> Iterator[keras.Model]:
    """A compiled model for ``key``: from the pool, or made by ``build()``."""
    with _lock:
        trainer = _pool.pop(key, None)
    if trainer is None:
        trainer = build()
        trainer.optimizer.build(trainer.trainable_variables)
        _install_multi_step(trainer)
    try:
        yield trainer
    finally:
        with _lock:
            _pool[key] = trainer
            while len(_pool) > MAX_TRAINERS:
                _pool.popitem(last=False)


def load(trainer: keras.Model, model: keras.Model, optimizer) -> None:
    """Put ``model``'s variables (weights, BatchNorm statistics, dropout seed
    states) and ``optimizer``'s state into ``trainer``."""
    _assign(trainer.variables, model.variables)
    _assign(trainer.optimizer.variables, optimizer.variables)


def store(trainer: keras.Model, model: keras.Model) -> None:
    """Copy the trained state back into the estimator's ``model``."""
    _assign(model.variables, trainer.variables)
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    _assign(model.optimizer.variables, trainer.optimizer.variables)


def _assign(targets, sources) -> None:
    # Through a host copy: JAX's train step donates (frees) the buffers it is
    # given, so the two models must never share one.
    for target, source in zip(targets, sources, strict=True):
        target.assign(host_array(source))


def set_steps_per_execution(trainer: keras.Model, steps: int) -> int:
    """Run up to ``steps`` train steps per call of ``trainer``'s train function.

    Returns the number it will run: ``steps`` where the trainer has Keras'
    multi-step train function that reads the number on every call (JAX),
    else 1. ``steps`` must divide the epoch's steps: Keras' epoch loop calls
    the train function every ``steps`` steps and would otherwise run past the
    end of the epoch.
    """
    if trainer not in _multi_step:
        steps = 1
    trainer.steps_per_execution = steps
    return steps


def _install_multi_step(trainer: keras.Model) -> None:
    """Let a JAX trainer run a variable number of steps per train-function call.

    Keras' JAX trainer picks its multi-step train function (a Python loop over
    the compiled step that reads ``steps_per_execution`` on every call) when
    the function is made, at the first fit, with ``steps_per_execution``
    above one; the count is then set for each fit. Keras' TensorFlow trainer
    bakes the count into the traced graph, so that a new epoch length (every
    fold of a grid search has its own) would mean a new trace: TensorFlow
    trainers keep one step per call, as do eager ones.
    """
    if trainer.run_eagerly or keras.backend.backend() != "jax":
        return
    trainer.steps_per_execution = 2
    _multi_step.add(trainer)
