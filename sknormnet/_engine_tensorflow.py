"""The TensorFlow training engine: a whole chunk of steps per call of one graph.

Each runner owns a private ``tf.Graph`` and a ``Session`` on it. One function
per batch size runs a ``tf.while_loop`` over the steps of a chunk: forward
pass and loss from ``_ops``, gradients from a ``GradientTape``, and the update
with TensorFlow's fused optimizer kernels (``ResourceApplyAdam`` and friends:
one kernel per variable where Keras' optimizers run about ten ops). The same
Keras formulas, fewer ops per step: per-op overhead, not arithmetic, is what a
small network's step costs here.

Why a session of its own rather than a ``tf.function`` in the eager runtime:
a session takes its own thread settings (``ConfigProto`` with per-session
pools), so a runner can run a small network's many tiny ops on one
intra-op thread -- splitting a 256 x 128 element-wise op across cores costs
more than it saves -- without touching the process-wide eager thread pools
that user code and other estimators share. And everything a runner compiled
lives in its graph, released when ``close`` closes the session.

The graph is built once per batch size for any number of steps and rows, so
every fold of a grid search reuses it. Two tiers of the same steps, chosen
per fit from the fit's own size, so that a fit's result depends on its
parameters and data only, never on what the process trained before (the
tiers agree to float32 rounding, not bit for bit):

- a plain graph, ready in a few hundredths of a second, for fits planned to
  run fewer than ``XLA_MIN_STEPS`` steps (``max_iter`` times the batches of
  an epoch) and for larger networks, whose matrix products it runs faster;
- a small network's fit (the same weight bound as for threads) planned to
  run at least that many steps has its steps compiled with XLA
  (``jit_compile``) from the first one: it fuses the step's many small
  element-wise ops, a quarter to a third off a 128-64 network's step, for a
  compilation of about half a second per chunk shape, which such a fit
  pays back. Chunks are then padded to one of 8 lengths per octave
  (``pads``), so a few shapes serve every epoch length. The compiled code
  belongs to the session and goes with it; later fits of the network
  reuse it.

The variables belong to the runner, never to user code: a fit loads its
state into them, trains, and reads the result back.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import tensorflow as tf

from . import _ops
from ._spec import NetworkSpec, OptimizerSpec
from ._threads import thread_limit

# A network of at most this many Dense weights runs its ops on one intra-op
# thread (see the module docstring and benchmarks/intra_threads.py); larger
# ones use the thread limit.
SMALL_NETWORK_WEIGHTS = 150_000
# A small network's fit planned to run at least this many steps runs XLA-
# compiled steps (see the module docstring and benchmarks/xla_tier.py).
XLA_MIN_STEPS = 2_000


def dense_weights(network: NetworkSpec) -> int:
    """How many Dense kernel weights ``network`` has (its multiplies per row)."""
    return sum(int(np.prod(v.shape)) for v in network.variables() if v.name == "kernel")


def session_config(
    network: NetworkSpec, environ=os.environ
) -> tf.compat.v1.ConfigProto:
    """Per-session thread pools for a runner of ``network``.

    The thread limit is the user's ``TF_NUM_INTRAOP_THREADS`` if set, else a
    parallel worker's ``OMP_NUM_THREADS``, else the CPUs this process may use.
    """
    limit = (
        thread_limit(environ, "TF_NUM_INTRAOP_THREADS")
        or thread_limit(environ)
        or len(os.sched_getaffinity(0))
    )
    intra = 1 if dense_weights(network) <= SMALL_NETWORK_WEIGHTS else limit
    config = tf.compat.v1.ConfigProto(
        intra_op_parallelism_threads=intra,
        inter_op_parallelism_threads=min(2, limit),
        use_per_session_threads=True,
    )
    # Grappler would rewrite each new set of fetches (loading the state,
    # reading it back) at ~10 ms apiece; the training steps are a function,
    # which TensorFlow optimizes when it instantiates it either way.
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    return config


class Runner:
    """Compiled training steps for one ``NetworkSpec`` and ``OptimizerSpec``."""

    def __init__(self, network: NetworkSpec, optimizer: OptimizerSpec):
        self.network = network
        self.optimizer = optimizer
        self.options = dict(optimizer.options)
        self._graph = tf.Graph()
        self._feeds: list = []  # one per variable: its value when a fit loads
        with self._graph.as_default():
            self._variables(network, optimizer)
            # loading a fit's state is running the variables' initializers
            self._load = tf.group([v.initializer for v in self._all])
        self._session = tf.compat.v1.Session(
            graph=self._graph, config=session_config(network)
        )
        self._runs: dict[tuple, tuple] = {}  # (batch size, XLA) -> graph
        # XLA's kernels beat the plain graph's only where per-op overhead rules
        self._xla = dense_weights(network) <= SMALL_NETWORK_WEIGHTS
        self.pads = False  # this fit runs compiled by XLA, padded to fixed shapes

    def plan(self, steps: int) -> None:
        """Choose the tier of the fit about to run at most ``steps`` steps."""
        self.pads = self._xla and steps >= XLA_MIN_STEPS

    def _variable(self, shape, dtype=tf.float32) -> tf.Variable:
        feed = tf.compat.v1.placeholder(dtype, shape)
        self._feeds.append(feed)
        return tf.Variable(feed)

    def _variables(self, network: NetworkSpec, optimizer: OptimizerSpec) -> None:
        variables = network.variables()
        self._weights = [self._variable(v.shape) for v in variables]
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
        self._iterations = self._variable((), tf.int64)
        self._slots = [
            [self._variable(w.shape) for _ in optimizer.slots] for w in self._trainable
        ]
        self._optimizer_variables = [
            self._iterations,
            *(slot for per_variable in self._slots for slot in per_variable),
        ]
        # RMSprop's fused kernel wants a momentum accumulator; with momentum 0
        # it is scratch space, not state (loaded as zeros).
        self._scratch = (
            [self._variable(w.shape) for w in self._trainable]
            if optimizer.solver == "rmsprop"
            else []
        )
        self._all = [*self._weights, *self._optimizer_variables, *self._scratch]

    # -------------------------------------------------------------- state
    def load(self, weights: tuple, optimizer_state: tuple) -> None:
        scratch = [np.zeros(v.shape, np.float32) for v in self._scratch]
        values = (*weights, *optimizer_state, *scratch)
        # the feeds follow the variables' creation order, as self._all does
        self._session.run(self._load, dict(zip(self._feeds, values, strict=True)))

    def weights(self) -> tuple:
        return tuple(self._session.run(self._weights))

    def optimizer_state(self) -> tuple:
        return tuple(self._session.run(self._optimizer_variables))

    def close(self) -> None:
        """Close the session and drop it: its executors, variables' buffers
        and thread pools go at once, not when Python next collects the graph
        (whose operations and the graph refer to each other)."""
        self._session.close()
        self._session = None

    # ----------------------------------------------------------- training
    def run(
        self, xs, ys, sample_weights, bits, learning_rates, l2, n_steps
    ) -> np.ndarray:
        """Train on the first ``n_steps`` of the ``len(xs)`` batches (the rest
        is padding); return their losses."""
        key = (xs.shape[1], self.pads)
        graph = self._runs.get(key)
        if graph is None:
            graph = self._runs[key] = self._build(*key)
        feeds, losses = graph
        values = (xs, ys, sample_weights, bits, learning_rates, np.float32(l2), n_steps)
        out = self._session.run(losses, dict(zip(feeds, values, strict=True)))
        return out[:n_steps]

    def _build(self, batch_size: int, xla: bool) -> tuple:
        """The inputs and the losses of the steps for one batch size.

        A static batch size lets TensorFlow's graph optimizer fold the shape
        arithmetic of the forward and backward passes away. The steps are a
        function called from the graph: inside it, TensorFlow orders the
        variables' reads and updates in program order.
        """
        network = self.network
        n_dropout = sum(network.dropout_units())
        placeholder = tf.compat.v1.placeholder
        with self._graph.as_default():
            feeds = (
                placeholder(tf.float32, [None, batch_size, network.n_features]),
                placeholder(tf.float32, [None, batch_size, network.n_outputs]),
                placeholder(tf.float32, [None, batch_size]),
                placeholder(tf.uint16, [None, batch_size, n_dropout]),
                placeholder(tf.float32, [None]),
                placeholder(tf.float32, []),
                placeholder(tf.int32, []),
            )
            steps = functools.partial(self._steps, fused=xla)
            losses = tf.function(steps, autograph=False, jit_compile=xla)(*feeds)
        return feeds, losses

    def tracing_count(self) -> int:
        """How many graphs this runner has built (one per batch size and tier)."""
        return len(self._runs)

    def _steps(self, xs, ys, sample_weights, bits, learning_rates, l2, n_steps, fused):
        """``n_steps`` steps; ``fused`` (XLA) makes each step's dropout masks
        inside the step, where they fuse with it and padding costs nothing;
        the plain graph makes the chunk's masks at once, in a few large ops."""
        # as many losses as batches (a shape XLA knows), n_steps of them run
        losses = tf.TensorArray(tf.float32, size=tf.shape(xs)[0])
        masks = None if fused else _ops.dropout_masks(self.network, bits)

        def body(i, losses):
            mask = _ops.dropout_masks(self.network, bits[i]) if fused else masks[i]
            loss = self._step(
                xs[i], ys[i], sample_weights[i], mask, learning_rates[i], l2
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
