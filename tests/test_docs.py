"""The estimators' docstrings: complete, in order, and not drifting apart.

The text the two estimators share comes from one source (``sknormnet._docs``);
these tests fail when a parameter goes undocumented, when the order departs
from the signature's, or when one estimator's copy of a shared entry is edited
by hand.
"""

import inspect
import re

import pytest

from sknormnet import NormNetClassifier, NormNetRegressor
from sknormnet._docs import ATTRIBUTES, PARAMETERS

ESTIMATORS = {
    NormNetRegressor: {"MLPRegressor": "MLP", "R²": "SCORE"},
    NormNetClassifier: {"MLPClassifier": "MLP", "accuracy": "SCORE"},
}
# Entries each estimator words its own way, on purpose.
OWN_PARAMETERS = {"activation", "early_stopping", "warm_start", "loss"}
# ... and the ones whose defaults differ (the regressor's are its own)
OWN_PARAMETERS |= {"hidden_layer_sizes", "dropout_rate", "batch_size"}
OWN_PARAMETERS |= {"learning_rate_init", "weight_averaging"}
OWN_ATTRIBUTES = {"validation_scores_", "n_outputs_", "out_activation_"}


def section(estimator, title: str) -> dict[str, str]:
    """``name -> entry text`` of one numpydoc section of the class docstring."""
    lines = inspect.cleandoc(estimator.__doc__).splitlines()
    start = lines.index(title) + 2
    entries, name = {}, None
    for line in lines[start:]:
        if re.fullmatch(r"[A-Z][A-Za-z ]+", line):  # the next section
            break
        header = re.match(r"(\w+) : ", line)
        if header:
            name = header.group(1)
            assert name not in entries, f"{name} documented twice"
            entries[name] = [line]
        elif name:
            entries[name].append(line)
    return {name: "\n".join(rows).strip() for name, rows in entries.items()}


def normalised(estimator, text: str) -> str:
    for word, neutral in ESTIMATORS[estimator].items():
        text = text.replace(word, neutral)
    return text


@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_docs_every_parameter_in_signature_order(estimator):
    documented = list(section(estimator, "Parameters"))
    assert documented == list(inspect.signature(estimator).parameters)


@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_docs_shared_entries_rendered(estimator):
    assert not re.search(r"^\s*\{\w+\}\s*$", estimator.__doc__, re.MULTILINE)
    params = section(estimator, "Parameters")
    for name in PARAMETERS:
        assert name in params
    attributes = section(estimator, "Attributes")
    for name in ATTRIBUTES:
        assert name in attributes


@pytest.mark.parametrize("title", ["Parameters", "Attributes"])
def test_docs_shared_entries_identical(title):
    own = OWN_PARAMETERS if title == "Parameters" else OWN_ATTRIBUTES
    regressor = section(NormNetRegressor, title)
    classifier = section(NormNetClassifier, title)
    shared = (set(regressor) & set(classifier)) - own
    assert shared, title
    drifted = [
        name
        for name in sorted(shared)
        if normalised(NormNetRegressor, regressor[name])
        != normalised(NormNetClassifier, classifier[name])
    ]
    assert drifted == []
    # every shared entry comes from the one source, none written twice
    source = PARAMETERS if title == "Parameters" else ATTRIBUTES
    assert shared == set(source)


@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_docs_describe_the_package(estimator):
    text = estimator.__doc__ + "".join(
        (getattr(estimator, name).__doc__ or "")
        for name in dir(estimator)
        if not name.startswith("_") and callable(getattr(estimator, name))
    )
    assert "lesson" not in text.lower()
