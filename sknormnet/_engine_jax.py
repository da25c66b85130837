"""The JAX training engine: a whole chunk of steps per call of one compiled function.

``jax.jit`` compiles, per (network, optimizer), a ``while_loop`` over the steps
of a chunk: forward pass and loss from ``_ops``, gradients from
``jax.value_and_grad``, and the update written here in ``jax.numpy`` with the
formulas of the Keras optimizers (Adam, AdamW, SGD with or without momentum,
RMSprop: the same update rule as Keras' ``fit``; the tests check the two
against each other). The state is passed in and returned, its buffers
donated, so nothing is shared between fits.

Nothing of a network's own shapes runs outside the compiled function: JAX
compiles every eager operation once per shape and keeps those executables in
process-wide caches (about a megabyte each), so a Keras optimizer built per
network, or ``jnp.array`` on its weights, would grow the process with every
new architecture a grid search tries. The state goes in with
``jax.device_put``, which compiles nothing; the compiled chunk function is the
runner's own and is released with it (``close``); its steps are traced with
inner jits disabled (see ``Runner._steps``).

Chunks have a fixed number of steps per compiled shape (8 lengths per octave, see
``_train``); the steps of a short chunk beyond its length are skipped, so an
epoch of any length reuses the compiled function.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import _ops
from ._spec import NetworkSpec, OptimizerSpec


class Runner:
    """Compiled training steps for one ``NetworkSpec`` and ``OptimizerSpec``."""

    pads = True  # chunks come padded to one of a few lengths

    def __init__(self, network: NetworkSpec, optimizer: OptimizerSpec):
        self.network = network
        self.optimizer = optimizer
        self.options = dict(optimizer.options)
        variables = network.variables()
        self._trainable_index = [i for i, v in enumerate(variables) if v.trainable]
        self._moving_index = [i for i, v in enumerate(variables) if not v.trainable]
        # AdamW decays the kernels only, like the L2 penalty of the other solvers
        self._decayed = [variables[i].name == "kernel" for i in self._trainable_index]
        self._n_slots = len(optimizer.slots)
        self._state = None
        self._run = jax.jit(self._steps, donate_argnums=(0,))

    # -------------------------------------------------------------- state
    def load(self, weights: tuple, optimizer_state: tuple) -> None:
        iterations, *slots = optimizer_state
        self._state = (
            tuple(_device_array(w, np.float32) for w in weights),
            _device_array(iterations, np.int32),  # JAX's default integer
            tuple(_device_array(s, np.float32) for s in slots),
        )

    def weights(self) -> tuple:
        return tuple(np.array(w) for w in self._state[0])

    def optimizer_state(self) -> tuple:
        iterations, slots = self._state[1], self._state[2]
        return (np.array(iterations, np.int64), *(np.array(s) for s in slots))

    def plan(self, steps: int) -> None:
        """Nothing to choose: every fit runs the compiled steps."""

    def close(self) -> None:
        """Drop the compiled function's executables from JAX's caches, and the
        function (it refers back to the runner through ``self._steps``)."""
        self._run.clear_cache()
        self._run = self._state = None

    # ----------------------------------------------------------- training
    def run(
        self, xs, ys, sample_weights, bits, learning_rates, l2, n_steps
    ) -> np.ndarray:
        """Train on the first ``n_steps`` of the padded chunk; return their losses."""
        self._state, losses = self._run(
            self._state,
            xs,
            ys,
            sample_weights,
            bits,
            learning_rates,
            np.float32(l2),
            np.int32(n_steps),
        )
        return np.asarray(losses)[:n_steps]

    def _steps(self, state, xs, ys, sample_weights, bits, learning_rates, l2, n_steps):
        """The chunk's steps, traced once per chunk shape by ``jax.jit``.

        A step is traced with ``jax.disable_jit()``: ``jax.numpy``'s functions
        (and the operators on arrays, which call them) are small jitted
        functions themselves, and JAX keeps the trace of each, per argument
        shape, for as long as the function lives -- forever, for a library
        function -- so every new architecture would add dozens of traces to
        the process. With inner jits disabled their operations go straight
        into this function's trace (what inlining would give: the same
        compiled step). The loop is a ``while_loop`` with the runner's own
        condition for the same reason (``fori_loop``'s is a library function).
        """

        def condition(carry):
            return carry[0] < n_steps

        def body(carry):
            i, state, losses = carry
            with jax.disable_jit():  # see the docstring
                # each step's masks inside the step, where XLA fuses them with
                # it (and the padded steps beyond n_steps cost nothing)
                mask = _ops.dropout_masks(self.network, bits[i])
                state, loss = self._step(
                    state, xs[i], ys[i], sample_weights[i], mask, learning_rates[i], l2
                )
            return i + 1, state, losses.at[i].set(loss)

        losses = jnp.zeros(xs.shape[0], jnp.float32)
        _, state, losses = jax.lax.while_loop(
            condition, body, (jnp.int32(0), state, losses)
        )
        return state, losses

    def _step(self, state, x, y, sample_weight, masks, learning_rate, l2):
        weights, iterations, slots = state
        network, loss_name = self.network, self.optimizer.loss
        trainable = [weights[i] for i in self._trainable_index]

        def objective(trainable):
            full = list(weights)
            for i, value in zip(self._trainable_index, trainable, strict=True):
                full[i] = value
            raw, moving = _ops.forward_train(network, full, x, masks)
            loss = _ops.objective(network, loss_name, raw, y, sample_weight, full, l2)
            return loss, moving

        (loss, moving), gradients = jax.value_and_grad(objective, has_aux=True)(
            trainable
        )
        trainable, slots = self._update(
            trainable, gradients, slots, learning_rate, iterations
        )
        new_weights = list(weights)
        for i, value in zip(self._trainable_index, trainable, strict=True):
            new_weights[i] = value
        for i, value in zip(self._moving_index, moving, strict=True):
            new_weights[i] = value
        return (tuple(new_weights), iterations + 1, slots), loss

    def _update(self, variables, gradients, slots, learning_rate, iterations):
        """One step of the Keras optimizer's update rule, on every trainable array.

        ``slots`` hold each variable's optimizer state in ``OptimizerSpec.slots``
        order, variable by variable, as ``optimizer_state`` returns them.
        """
        solver, options, n = self.optimizer.solver, self.options, self._n_slots
        lr = learning_rate
        if solver in ("adam", "adamw"):
            beta_1, beta_2 = options["beta_1"], options["beta_2"]
            step = (iterations + 1).astype(jnp.float32)
            alpha = lr * jnp.sqrt(1 - beta_2**step) / (1 - beta_1**step)
        new_variables, new_slots = [], []
        for k, (variable, gradient) in enumerate(
            zip(variables, gradients, strict=True)
        ):
            own = slots[k * n : (k + 1) * n]
            if solver == "adamw" and self._decayed[k]:
                # decoupled weight decay, before the step, as Keras applies it
                variable = variable - variable * options["weight_decay"] * lr
            if solver in ("adam", "adamw"):
                m, v = own
                m = m + (gradient - m) * (1 - beta_1)
                v = v + (jnp.square(gradient) - v) * (1 - beta_2)
                variable = variable - (m * alpha) / (jnp.sqrt(v) + options["epsilon"])
                own = (m, v)
            elif solver == "sgd" and own:
                momentum = options["momentum"]
                (m,) = own
                m = m * momentum - gradient * lr
                if options["nesterov"]:
                    variable = variable + (m * momentum - gradient * lr)
                else:
                    variable = variable + m
                own = (m,)
            elif solver == "sgd":
                variable = variable - gradient * lr
            else:  # rmsprop, Keras' rho of 0.9, no momentum, not centered
                (velocity,) = own
                velocity = 0.9 * velocity + (1 - 0.9) * jnp.square(gradient)
                variable = variable - (lr * gradient) / jnp.sqrt(
                    velocity + options["epsilon"]
                )
                own = (velocity,)
            new_variables.append(variable)
            new_slots.extend(own)
        return new_variables, tuple(new_slots)


def _device_array(value, dtype) -> jax.Array:
    """A device copy of ``value`` that compiles nothing (unlike ``jnp.array``).

    The host copy is fresh, so the donated buffer aliases no caller's array.
    """
    return jax.device_put(np.array(value, dtype=dtype, copy=True))
