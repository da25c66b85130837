"""The JAX training engine: a whole chunk of steps per call of one compiled function.

``jax.jit`` compiles, per (network, optimizer), a ``fori_loop`` over the steps
of a chunk: forward pass and loss from ``_ops``, gradients from
``jax.value_and_grad``, and the update by the Keras optimizer's own
``stateless_apply`` (the same update rule as Keras' ``fit``). The state is
passed in and returned, its buffers donated, so nothing is shared between
fits.

Chunks have a fixed number of steps per compiled shape (8 lengths per octave, see
``_train``); the steps of a short chunk beyond its length are skipped, so an
epoch of any length reuses the compiled function.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import keras
import numpy as np

from . import _ops
from ._model import make_optimizer
from ._spec import NetworkSpec, OptimizerSpec


class Runner:
    """Compiled training steps for one ``NetworkSpec`` and ``OptimizerSpec``."""

    pads = True  # chunks come padded to one of a few lengths

    def __init__(self, network: NetworkSpec, optimizer: OptimizerSpec):
        self.network = network
        self.optimizer = optimizer
        variables = network.variables()
        self._trainable_index = [i for i, v in enumerate(variables) if v.trainable]
        self._moving_index = [i for i, v in enumerate(variables) if not v.trainable]
        # The Keras optimizer is used for its update rule only: built on
        # stand-in variables of the right shapes, applied statelessly.
        stand_ins = [
            keras.Variable(np.zeros(variables[i].shape, np.float32), name=name)
            for i, name in zip(
                self._trainable_index, _exclusion_names(network), strict=True
            )
        ]
        self._keras_optimizer = make_optimizer(optimizer, learning_rate=1e-3)
        self._keras_optimizer.build(stand_ins)
        self._state = None
        self._run = jax.jit(self._steps, donate_argnums=(0,))

    # -------------------------------------------------------------- state
    def load(self, weights: tuple, optimizer_state: tuple) -> None:
        iterations, *slots = optimizer_state
        self._state = (
            tuple(jnp.array(w) for w in weights),
            (jnp.array(iterations), jnp.zeros((), jnp.float32)),
            tuple(jnp.array(s) for s in slots),
        )

    def weights(self) -> tuple:
        return tuple(np.array(w) for w in self._state[0])

    def optimizer_state(self) -> tuple:
        (iterations, _), slots = self._state[1], self._state[2]
        return (np.array(iterations), *(np.array(s) for s in slots))

    def close(self) -> None:
        """Drop the compiled function's executables from JAX's caches."""
        self._run.clear_cache()

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
        def body(i, carry):
            state, losses = carry
            # each step's masks inside the step, where XLA fuses them with it
            # (and the padded steps beyond n_steps cost nothing)
            mask = _ops.dropout_masks(self.network, bits[i])
            state, loss = self._step(
                state, xs[i], ys[i], sample_weights[i], mask, learning_rates[i], l2
            )
            return state, losses.at[i].set(loss)

        losses = jnp.zeros(xs.shape[0], jnp.float32)
        return jax.lax.fori_loop(0, n_steps, body, (state, losses))

    def _step(self, state, x, y, sample_weight, masks, learning_rate, l2):
        weights, (iterations, _), slots = state
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
        optimizer_variables = [iterations, learning_rate, *slots]
        trainable, optimizer_variables = self._keras_optimizer.stateless_apply(
            optimizer_variables, gradients, trainable
        )
        new_weights = list(weights)
        for i, value in zip(self._trainable_index, trainable, strict=True):
            new_weights[i] = value
        for i, value in zip(self._moving_index, moving, strict=True):
            new_weights[i] = value
        iterations, _, *slots = optimizer_variables
        return (
            (tuple(new_weights), (iterations, learning_rate), tuple(slots)),
            loss,
        )


def _exclusion_names(network: NetworkSpec) -> list[str]:
    """Names of the trainable variables, which AdamW's decay exclusion reads."""
    return [v.name for v in network.variables() if v.trainable]
