"""The TensorFlow training engine: a whole chunk of steps per call of one graph.

One ``tf.function`` per (network, optimizer) runs a ``tf.while_loop`` over the
steps of a chunk: forward pass and loss from ``_ops``, gradients from a
``GradientTape``, and the update with TensorFlow's fused optimizer kernels
(``ResourceApplyAdam`` and friends: one kernel per variable where Keras'
optimizers run about ten ops). The same Keras formulas, fewer ops per step:
per-op overhead, not arithmetic, is what a small network's step costs here.

The graph is traced once for any number of steps, batch size and rows, so
that every fold of a grid search reuses it. XLA (``jit_compile``) is off: on
this CPU path it keeps every compiled network in memory for the life of the
process, which a grid search over architectures cannot afford.

The variables belong to the runner, never to user code: a fit loads its
state into them, trains, and reads the result back.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from . import _ops
from ._spec import NetworkSpec, OptimizerSpec


class Runner:
    """Compiled training steps for one ``NetworkSpec`` and ``OptimizerSpec``."""

    pads = False  # one trace serves any number of steps

    def __init__(self, network: NetworkSpec, optimizer: OptimizerSpec):
        self.network = network
        self.optimizer = optimizer
        self.options = dict(optimizer.options)
        variables = network.variables()
        self._weights = [tf.Variable(np.zeros(v.shape, np.float32)) for v in variables]
        self._trainable = [
            w for w, v in zip(self._weights, variables, strict=True) if v.trainable
        ]
        self._moving = [
            w for w, v in zip(self._weights, variables, strict=True) if not v.trainable
        ]
        self._decayed = [
            w
            for w, v in zip(self._weights, variables, strict=True)
            if v.name == "kernel"
        ]
        self._iterations = tf.Variable(np.zeros((), np.int64))
        self._slots = [
            [tf.Variable(np.zeros(w.shape, np.float32)) for _ in optimizer.slots]
            for w in self._trainable
        ]
        # RMSprop's fused kernel wants a momentum accumulator; with momentum 0
        # it is scratch space, not state.
        self._scratch = (
            [tf.Variable(np.zeros(w.shape, np.float32)) for w in self._trainable]
            if optimizer.solver == "rmsprop"
            else []
        )
        self._runs: dict[int, tf.types.experimental.PolymorphicFunction] = {}

    # -------------------------------------------------------------- state
    def load(self, weights: tuple, optimizer_state: tuple) -> None:
        for variable, value in zip(self._weights, weights, strict=True):
            variable.assign(value)
        iterations, *slots = optimizer_state
        self._iterations.assign(iterations)
        flat = [slot for per_variable in self._slots for slot in per_variable]
        for variable, value in zip(flat, slots, strict=True):
            variable.assign(value)

    def weights(self) -> tuple:
        return tuple(w.numpy() for w in self._weights)

    def optimizer_state(self) -> tuple:
        slots = [slot.numpy() for per_variable in self._slots for slot in per_variable]
        return (self._iterations.numpy(), *slots)

    def close(self) -> None:
        """Nothing to release: the graph goes with the runner."""

    # ----------------------------------------------------------- training
    def run(self, xs, ys, sample_weights, bits, learning_rates, l2) -> np.ndarray:
        """Train on ``len(xs)`` batches; return each step's loss."""
        batch_size = xs.shape[1]
        run = self._runs.get(batch_size)
        if run is None:
            run = self._runs[batch_size] = self._traced(batch_size)
        return run(xs, ys, sample_weights, bits, learning_rates, np.float32(l2)).numpy()

    def _traced(self, batch_size: int):
        """The graph for one batch size (any number of steps).

        A static batch size lets TensorFlow's graph optimizer fold the shape
        arithmetic of the forward and backward passes away.
        """
        network = self.network
        n_dropout = sum(network.dropout_units())
        signature = [
            tf.TensorSpec([None, batch_size, network.n_features], tf.float32),
            tf.TensorSpec([None, batch_size, network.n_outputs], tf.float32),
            tf.TensorSpec([None, batch_size], tf.float32),
            tf.TensorSpec([None, batch_size, n_dropout], tf.uint16),
            tf.TensorSpec([None], tf.float32),
            tf.TensorSpec([], tf.float32),
        ]
        # Traced here, once; calls go to the concrete graph, which skips the
        # dispatch of a polymorphic tf.function (and its warning about
        # functions retraced often: every runner traces the same method).
        function = tf.function(self._steps, input_signature=signature, autograph=False)
        return function.get_concrete_function()

    def tracing_count(self) -> int:
        """How many graphs this runner has traced (one per batch size)."""
        return len(self._runs)

    def _steps(self, xs, ys, sample_weights, bits, learning_rates, l2):
        n_steps = tf.shape(xs)[0]
        losses = tf.TensorArray(tf.float32, size=n_steps)
        masks = _ops.dropout_masks(self.network, bits)  # the chunk's, at once

        def body(i, losses):
            loss = self._step(
                xs[i], ys[i], sample_weights[i], masks[i], learning_rates[i], l2
            )
            return i + 1, losses.write(i, loss)

        _, losses = tf.while_loop(
            lambda i, _: i < n_steps, body, (tf.constant(0), losses)
        )
        return losses.stack()

    def _step(self, x, y, sample_weight, masks, learning_rate, l2):
        network = self.network
        with tf.GradientTape() as tape:
            raw, moving = _ops.forward_train(network, self._weights, x, masks)
            loss = _ops.objective(
                network, self.optimizer.loss, raw, y, sample_weight, None, 0.0
            )
        gradients = tape.gradient(loss, self._trainable)
        # the L2 term's value and its gradient, 2 * l2 * kernel, written out:
        # fewer ops per step than differentiating it
        penalty = 0.0
        for i, variable in enumerate(self._trainable):
            if any(variable is kernel for kernel in self._decayed):
                penalty += tf.reduce_sum(tf.square(variable))
                gradients[i] = gradients[i] + (2.0 * l2) * variable
        loss = loss + l2 * penalty
        updates = [v.assign(m) for v, m in zip(self._moving, moving, strict=True)]
        with tf.control_dependencies(updates):
            self._apply(gradients, learning_rate)
        return tf.identity(loss)

    def _apply(self, gradients, learning_rate) -> None:
        """One optimizer step with Keras' update rule for the solver."""
        solver, options = self.optimizer.solver, self.options
        step = tf.cast(self._iterations + 1, tf.float32)
        if solver in ("adam", "adamw"):
            beta_1, beta_2 = options["beta_1"], options["beta_2"]
            beta_1_power, beta_2_power = tf.pow(beta_1, step), tf.pow(beta_2, step)
        if solver == "adamw":
            # Keras' decoupled weight decay, on the kernels, before the step
            decay = 1.0 - options["weight_decay"] * learning_rate
            for variable in self._decayed:
                variable.assign(variable * decay)
        for variable, gradient, slots, scratch in zip(
            self._trainable,
            gradients,
            self._slots,
            self._scratch or [None] * len(self._trainable),
            strict=True,
        ):
            if solver in ("adam", "adamw"):
                tf.raw_ops.ResourceApplyAdam(
                    var=variable.handle,
                    m=slots[0].handle,
                    v=slots[1].handle,
                    beta1_power=beta_1_power,
                    beta2_power=beta_2_power,
                    lr=learning_rate,
                    beta1=beta_1,
                    beta2=beta_2,
                    epsilon=options["epsilon"],
                    grad=gradient,
                )
            elif solver == "sgd" and slots:
                tf.raw_ops.ResourceApplyKerasMomentum(
                    var=variable.handle,
                    accum=slots[0].handle,
                    lr=learning_rate,
                    grad=gradient,
                    momentum=options["momentum"],
                    use_nesterov=options["nesterov"],
                )
            elif solver == "sgd":
                tf.raw_ops.ResourceApplyGradientDescent(
                    var=variable.handle, alpha=learning_rate, delta=gradient
                )
            else:  # rmsprop, Keras' rho
                tf.raw_ops.ResourceApplyRMSProp(
                    var=variable.handle,
                    ms=slots[0].handle,
                    mom=scratch.handle,
                    lr=learning_rate,
                    rho=0.9,
                    momentum=0.0,
                    epsilon=options["epsilon"],
                    grad=gradient,
                )
        self._iterations.assign_add(1)
