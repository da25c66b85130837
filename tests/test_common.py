"""scikit-learn's estimator checks on small instances of every public estimator."""

from sklearn.base import is_classifier, is_regressor
from sklearn.utils.estimator_checks import parametrize_with_checks

from sknormnet import NormNetClassifier, NormNetRegressor

# Minibatch training cannot make fitting with a weight of 2 identical to
# fitting a duplicated row (the duplicate lands in a different batch, and
# batches are normalised and stepped separately), nor a weight of 0 identical
# to removing the row (the row still takes a slot in its batch and in
# BatchNorm's batch statistics). Zero weights do remove a row's influence on
# the loss: tests/test_sample_weight.py checks that part.
_SAMPLE_WEIGHT_REASON = (
    "minibatch SGD with shuffling is not equivalent to repeating or removing rows"
)
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": _SAMPLE_WEIGHT_REASON,
    "check_sample_weight_equivalence_on_sparse_data": _SAMPLE_WEIGHT_REASON,
}

ESTIMATORS = [
    NormNetRegressor(
        hidden_layer_sizes=(16,),
        max_iter=30,
        batch_size=32,
        learning_rate_init=0.01,
        random_state=0,
    ),
    NormNetRegressor(
        hidden_layer_sizes=(16, 8),
        dropout_rate=0.1,
        batchnorm="before_activation",
        activation="tanh",
        max_iter=30,
        batch_size=32,
        learning_rate_init=0.01,
        random_state=0,
    ),
    NormNetClassifier(
        hidden_layer_sizes=(16,),
        max_iter=30,
        batch_size=32,
        learning_rate_init=0.01,
        random_state=0,
    ),
    NormNetClassifier(
        hidden_layer_sizes=(16,),
        dropout_rate=0.1,
        batchnorm="before_activation",
        max_iter=30,
        batch_size=32,
        learning_rate_init=0.01,
        random_state=0,
    ),
]


@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILURES
)
def test_common_sklearn_checks(estimator, check):
    check(estimator)


def test_common_is_regressor():
    assert is_regressor(NormNetRegressor())


def test_common_is_classifier():
    assert is_classifier(NormNetClassifier())
    assert not is_regressor(NormNetClassifier())
