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

Each trainer also gets a train function that runs a whole epoch of steps in
one call (``steps_per_execution``). On TensorFlow, Keras' own version bakes
the number of steps into the traced graph, so a new epoch length (every fold
of a grid search has its own) would mean tracing again; here the number of
steps is a variable read when the function runs, so one trace serves every
epoch length. On JAX, Keras' multi-step function already reads the number on
every call. ``set_steps_per_execution`` picks it per fit.
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
# trainer -> the variable holding its train function's steps per call, or
# _PYTHON_LOOP where Keras reads them from the trainer's steps_per_execution
_step_counts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PYTHON_LOOP = object()


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

    Returns the number it will run: ``steps`` where the trainer has the
    variable-length train function, else 1 (Keras' own, one step per call).
    ``steps`` must divide the epoch's steps: Keras' epoch loop calls the
    train function every ``steps`` steps and would otherwise run past the
    end of the epoch.
    """
    count = _step_counts.get(trainer)
    if count is None:
        steps = 1
    elif count is not _PYTHON_LOOP:
        count.assign(steps)
    trainer.steps_per_execution = steps
    return steps


def _install_multi_step(trainer: keras.Model) -> None:
    """Give a trainer a train function running a variable number of steps per call.

    TensorFlow: a traced loop over a step-count variable. JAX: Keras' own
    multi-step function, a Python loop over the compiled step that reads
    ``steps_per_execution`` on every call; Keras picks it over the one-step
    function when the train function is made (at the first fit) with a
    ``steps_per_execution`` above one. Left as Keras made it (one step per
    call) on other backends, in eager mode, with XLA on TensorFlow and under
    a ``tf.distribute`` strategy.
    """
    if trainer.run_eagerly:
        return
    if keras.backend.backend() == "jax":
        trainer.steps_per_execution = 2
        _step_counts[trainer] = _PYTHON_LOOP
        return
    if keras.backend.backend() != "tensorflow" or trainer.jit_compile:
        return
    import tensorflow as tf

    if tf.distribute.has_strategy():
        return
    count = tf.Variable(1, dtype=tf.int32, trainable=False)

    def present(data):
        # Keras' data adapters pass an absent sample weight as an empty Optional
        return keras.tree.map_structure(
            lambda item: None if isinstance(item, tf.experimental.Optional) else item,
            data,
        )

    @tf.function(reduce_retracing=True, autograph=False)
    def one_step(data):
        return trainer.train_step(present(data))

    @tf.function(reduce_retracing=True, autograph=False)
    def some_steps(iterator):
        logs = one_step(iterator.get_next())

        def step(i, logs):
            return i + 1, one_step(iterator.get_next())

        _, logs = tf.while_loop(lambda i, _: i < count, step, (tf.constant(1), logs))
        return logs

    trainer.train_function = some_steps
    _step_counts[trainer] = count
