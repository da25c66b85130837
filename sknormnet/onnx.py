"""ONNX export of the fitted estimators, through skl2onnx.

Prediction in sknormnet is a plain multi-layer perceptron over ``coefs_`` and
``intercepts_`` (BatchNormalization already folded in, Dropout inactive), the
same network that scikit-learn's ``MLPRegressor`` and ``MLPClassifier``
evaluate. :func:`register_onnx_converters` therefore registers
:class:`~sknormnet.NormNetRegressor` and :class:`~sknormnet.NormNetClassifier`
with skl2onnx's own MLP shape calculators and converters, after which
``skl2onnx.to_onnx`` converts them, alone or inside a ``Pipeline``.

skl2onnx is optional (``pip install "sknormnet[onnx]"``, which also installs
onnxruntime to run the exported graphs): importing this module does not
import it.

.. code-block:: python

    import numpy as np
    from skl2onnx import to_onnx
    from sknormnet.onnx import register_onnx_converters

    register_onnx_converters()
    onx = to_onnx(fitted_estimator, X[:1].astype(np.float32))
"""

from __future__ import annotations

__all__ = ["register_onnx_converters"]

# The hidden activations that skl2onnx's MLP converter maps to ONNX operators.
_SUPPORTED_ACTIVATIONS = ("identity", "logistic", "relu", "tanh")

_REGRESSOR_ALIAS = "SknormnetNormNetRegressor"
_CLASSIFIER_ALIAS = "SknormnetNormNetClassifier"
# The options skl2onnx registers for MLPClassifier, so that the default
# classifier parser handles them (zipmap in particular).
_CLASSIFIER_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "output_class_labels": [False, True],
    "nocl": [True, False],
}
_MULTILABEL = "multilabel-indicator"

_registered = False


def register_onnx_converters() -> None:
    """Register NormNetRegressor and NormNetClassifier with skl2onnx.

    After this call, ``skl2onnx.to_onnx`` (or ``convert_sklearn``) converts a
    fitted estimator, or a ``Pipeline`` that ends with one, to an ONNX graph
    of the folded network: MatMul, Add and activation operators, as for
    scikit-learn's ``MLPRegressor`` and ``MLPClassifier``. Calling it again
    does nothing.

    The graph computes in the precision of its input: float32 for a
    ``FloatTensorType`` input (what ``to_onnx(model, X.astype(np.float32))``
    declares), float64 for a ``DoubleTensorType`` one. The classifier's
    graph outputs the labels and the probabilities (``predict`` and
    ``predict_proba``); pass ``options={"zipmap": False}`` to get the
    probabilities as a tensor instead of a list of dictionaries. (The graph
    of a multilabel classifier thresholds its probabilities with ONNX-ML's
    ``Binarizer``, which onnxruntime runs on float32 only: export those with
    a float32 input.)

    Only networks whose hidden ``activation`` is one of 'identity',
    'logistic', 'relu' or 'tanh' convert: converting one with 'elu',
    'selu', 'gelu' or 'swish' raises a ``ValueError`` that names it.

    Raises
    ------
    ImportError
        If skl2onnx is not installed.
    """
    global _registered
    if _registered:
        return
    try:
        from skl2onnx import update_registered_converter
    except ImportError as exc:
        raise ImportError(
            "ONNX export needs skl2onnx (and onnxruntime to run the exported "
            'graphs): pip install "sknormnet[onnx]"'
        ) from exc

    from ._classifier import NormNetClassifier
    from ._regressor import NormNetRegressor

    update_registered_converter(
        NormNetRegressor,
        _REGRESSOR_ALIAS,
        _regressor_shapes,
        _convert_regressor,
    )
    update_registered_converter(
        NormNetClassifier,
        _CLASSIFIER_ALIAS,
        _classifier_shapes,
        _convert_classifier,
        options=_CLASSIFIER_OPTIONS,
    )
    _registered = True


def _check_activation(estimator) -> None:
    """Raise a ValueError when skl2onnx's MLP converter cannot express the network."""
    activation = estimator.activation
    if activation not in _SUPPORTED_ACTIVATIONS:
        supported = ", ".join(repr(name) for name in _SUPPORTED_ACTIVATIONS)
        raise ValueError(
            f"{type(estimator).__name__} with activation={activation!r} cannot be "
            "exported to ONNX: skl2onnx's MLP converter supports the hidden "
            f"activations {supported} only. Refit with one of these to export "
            "the network."
        )


class _OutputsRenamed:
    """``operator`` as a converter sees it, with some outputs written elsewhere.

    skl2onnx's converters write their results to ``operator.outputs[i]``;
    this view hands them intermediate names instead, so that one more node
    can turn the intermediate into the declared output.
    """

    def __init__(self, operator, outputs):
        self._operator = operator
        self.outputs = outputs

    @property
    def output_full_names(self):
        return [variable.full_name for variable in self.outputs]

    def __getattr__(self, name):
        return getattr(self._operator, name)


class _Intermediate:
    """A graph value of a converter, under a fresh name."""

    def __init__(self, scope, variable):
        self.full_name = scope.get_unique_variable_name(variable.full_name)
        self.onnx_name = self.full_name
        self.type = variable.type


def _check_opset(container, what: str, minimum: int) -> None:
    """Raise a ValueError when the target opset is too old for the nodes added here."""
    opset = container.target_opset
    if opset is not None and opset < minimum:
        raise ValueError(
            f"Exporting {what} to ONNX needs target_opset >= {minimum}; got {opset}."
        )


# ------------------------------------------------------------------ regressor
def _regressor_shapes(operator):
    from skl2onnx.common.shape_calculator import (
        calculate_linear_regressor_output_shapes,
    )

    estimator = operator.raw_operator
    _check_activation(estimator)
    calculate_linear_regressor_output_shapes(operator)
    # one column per output (skl2onnx's calculator declares one column for a
    # model without coef_)
    output = operator.outputs[0]
    n_rows = operator.inputs[0].get_first_dimension()
    output.set_type(type(output.type)([n_rows, estimator.n_outputs_]))


def _convert_regressor(scope, operator, container):
    from onnx import TensorProto
    from skl2onnx.operator_converters.multilayer_perceptron import (
        convert_sklearn_mlp_regressor,
    )

    estimator = operator.raw_operator
    _check_activation(estimator)
    if estimator.n_outputs_ == 1:
        convert_sklearn_mlp_regressor(scope, operator, container)
        return
    # skl2onnx's MLP converter reshapes the output to one column, which
    # stacks a multi-output prediction into n_rows * n_outputs rows (the
    # first row's outputs, then the second's, ...). Reshaping to
    # (-1, n_outputs) recovers the prediction, and leaves it unchanged if the
    # converter already returns (n_rows, n_outputs). Reshape reads its shape
    # from an input from opset 5 on.
    _check_opset(container, "a multi-output NormNetRegressor", 5)
    stacked = _Intermediate(scope, operator.outputs[0])
    convert_sklearn_mlp_regressor(
        scope, _OutputsRenamed(operator, [stacked]), container
    )
    shape = scope.get_unique_variable_name("output_shape")
    container.add_initializer(shape, TensorProto.INT64, [2], [-1, estimator.n_outputs_])
    container.add_node(
        "Reshape",
        [stacked.full_name, shape],
        operator.outputs[0].full_name,
        name=scope.get_unique_operator_name("Reshape"),
    )


# ----------------------------------------------------------------- classifier
def _classifier_shapes(operator):
    from skl2onnx.common.data_types import Int64TensorType
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
    )

    estimator = operator.raw_operator
    _check_activation(estimator)
    calculate_linear_classifier_output_shapes(operator)
    if estimator._label_binarizer.y_type_ == _MULTILABEL:
        # a 0/1 indicator matrix, not one label per row
        n_rows = operator.inputs[0].get_first_dimension()
        operator.outputs[0].set_type(Int64TensorType([n_rows, estimator.n_outputs_]))
        operator.outputs[1].type.shape = [n_rows, estimator.n_outputs_]


def _convert_classifier(scope, operator, container):
    from onnx import TensorProto
    from skl2onnx.operator_converters.multilayer_perceptron import (
        convert_sklearn_mlp_classifier,
    )

    estimator = operator.raw_operator
    _check_activation(estimator)
    multilabel = estimator._label_binarizer.y_type_ == _MULTILABEL
    if not (multilabel and estimator.n_outputs_ == 2):
        convert_sklearn_mlp_classifier(scope, operator, container)
        return
    # skl2onnx's MLP converter takes two classes for a binary target and
    # puts 1 - p in front of the probabilities, also when the two are the
    # labels of a multilabel target: its probabilities are then
    # [1 - p, p] with four columns. The last two columns are the labels'
    # probabilities (and all of them, if the converter returns two). Slice
    # reads its bounds from inputs from opset 10 on.
    _check_opset(container, "a two-label multilabel NormNetClassifier", 10)
    probabilities = _Intermediate(scope, operator.outputs[1])
    convert_sklearn_mlp_classifier(
        scope,
        _OutputsRenamed(operator, [operator.outputs[0], probabilities]),
        container,
    )
    bounds = []
    for name, value in (("starts", -2), ("ends", 2**62), ("axes", 1)):
        bound = scope.get_unique_variable_name(name)
        container.add_initializer(bound, TensorProto.INT64, [1], [value])
        bounds.append(bound)
    container.add_node(
        "Slice",
        [probabilities.full_name, *bounds],
        operator.outputs[1].full_name,
        name=scope.get_unique_operator_name("Slice"),
    )
