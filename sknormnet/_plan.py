"""The layer order of a NormNet network, as plain data.

``layer_plan`` turns the estimator's parameters into the exact sequence of
layers that ``_model.build_model`` creates. Keeping it free of Keras lets the
docs, the tests and ``NormNetRegressor.describe_layers`` show the network
without building it.
"""

from __future__ import annotations

from typing import NamedTuple

from ._names import SCALE_EQUIVARIANT_ACTIVATIONS


class LayerSpec(NamedTuple):
    """One layer: ``kind`` is 'dense', 'batchnorm', 'activation' or 'dropout'.

    A Dense layer with ``members > 1`` is that many independent Dense layers
    side by side: its input and its ``units`` are split evenly between them,
    and member ``k``'s units see member ``k``'s inputs only.
    """

    kind: str
    name: str
    units: int | None = None
    activation: str | None = None
    use_bias: bool = True
    rate: float = 0.0
    scale: bool = True
    members: int = 1

    def __str__(self) -> str:
        if self.kind == "dense":
            act = f", {self.activation}" if self.activation else ""
            bias = "" if self.use_bias else ", no bias"
            split = (
                f", {self.members} members of {self.units // self.members}"
                if self.members > 1
                else ""
            )
            return f"Dense({self.units}{split}{act}{bias})"
        if self.kind == "batchnorm":
            return "BatchNorm" if self.scale else "BatchNorm(no scale)"
        if self.kind == "activation":
            return f"Activation({self.activation})"
        return f"Dropout({self.rate:g})"


def layer_plan(
    hidden_layer_sizes: tuple[int, ...],
    activation: str,
    dropout_rates: tuple[float, ...],
    batchnorm: str | None,
    n_outputs: int,
    out_activation: str = "identity",
    members: int = 1,
) -> list[LayerSpec]:
    """Return the layers of the network in order, input excluded.

    Each hidden layer ``i`` is a Dense layer with ``hidden_layer_sizes[i]``
    units and the given activation, followed by Dropout when
    ``dropout_rates[i] > 0``. ``batchnorm`` adds BatchNormalization layers:

    - ``None``: none.
    - ``'input'``: one, first, in front of the first Dense layer.
    - ``'before_dense'``: one in front of every Dense layer, the output
      layer included.
    - ``'before_activation'``: the hidden Dense layer loses its bias and its
      activation; BatchNorm follows it, then an Activation layer. BatchNorm's
      scale is dropped when the activation is scale-equivariant (identity,
      relu): the next Dense kernel absorbs it.
    - ``'after_activation'``: one after each hidden block, behind its Dropout.

    ``members > 1`` makes the network that many independent networks side by
    side, which see the same input: every hidden layer's units are split
    evenly between them, every Dense layer after the first is split into
    ``members`` (see ``LayerSpec``), and the output layer gives each member's
    outputs (``members * n_outputs`` units), which the fitted network
    averages.
    """
    plan: list[LayerSpec] = []

    def batchnorm_layer(tag: str, scale: bool = True) -> None:
        plan.append(LayerSpec("batchnorm", f"batchnorm_{tag}", scale=scale))

    if batchnorm == "input":
        batchnorm_layer("input")
    for i, (units, rate) in enumerate(
        zip(hidden_layer_sizes, dropout_rates, strict=True)
    ):
        if batchnorm == "before_dense":
            batchnorm_layer(str(i))
        split = members if i > 0 else 1
        if batchnorm == "before_activation":
            plan.append(
                LayerSpec(
                    "dense", f"dense_{i}", units=units, use_bias=False, members=split
                )
            )
            batchnorm_layer(
                str(i), scale=activation not in SCALE_EQUIVARIANT_ACTIVATIONS
            )
            plan.append(
                LayerSpec("activation", f"activation_{i}", activation=activation)
            )
        else:
            plan.append(
                LayerSpec(
                    "dense",
                    f"dense_{i}",
                    units=units,
                    activation=activation,
                    members=split,
                )
            )
        if rate > 0:
            plan.append(LayerSpec("dropout", f"dropout_{i}", rate=float(rate)))
        if batchnorm == "after_activation":
            batchnorm_layer(str(i))
    if batchnorm == "before_dense":
        batchnorm_layer("output")
    plan.append(
        LayerSpec(
            "dense",
            "output",
            units=members * n_outputs,
            activation=out_activation,
            members=members,
        )
    )
    return plan


def describe_plan(plan: list[LayerSpec], n_features: int | str = "n_features") -> str:
    """One line per layer, the input first: the picture used in the docs."""
    lines = [f"Input({n_features})", *(str(layer) for layer in plan)]
    output = plan[-1]
    if output.members > 1:  # the mean is taken before the output activation
        lines[-1] = str(output._replace(activation=None))
        lines.append(f"Mean of the {output.members} members' outputs")
        if output.activation not in (None, "identity"):
            lines.append(f"Activation({output.activation})")
    return "\n".join(lines)
