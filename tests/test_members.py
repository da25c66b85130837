"""``n_members``: independent networks side by side in one model, averaged.

Each member must train exactly as a network of its own would (same initial
weights, same batches, its own loss and penalty), the fitted network must be
their average, and every path (the backend engine, Keras' ``Model.fit`` with
callbacks, ``model_``, the NumPy forward pass) must agree on it.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from sknormnet import NormNetClassifier, NormNetRegressor
from sknormnet._forward import forward
from sknormnet._spec import initial_optimizer_state, initial_weights
from sknormnet._train import TrainingData, TrainingState, train

keras = pytest.importorskip("keras")

SMALL = dict(
    hidden_layer_sizes=(12, 6),
    n_members=3,
    dropout_rate=0.0,
    batch_size=16,
    max_iter=3,
    n_iter_no_change=100,
    early_stopping=False,
    weight_averaging=0.0,
    learning_rate_init=0.01,
    random_state=0,
)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(96, 5)).astype(np.float32)
    y = (X @ rng.normal(size=5) + 0.1 * rng.normal(size=96)).astype(np.float32)
    return X, y


def _member_weights(pack_spec, weights, k):
    """Member ``k``'s arrays, cut out of the whole network's."""
    members = pack_spec.members
    out = []
    for var, value in zip(pack_spec.variables(), weights, strict=True):
        value = np.asarray(value)
        if var.name == "kernel" and value.ndim == 3:
            out.append(value[k])
        elif var.name == "kernel":  # the first layer: the member's columns
            width = value.shape[1] // members
            out.append(value[:, k * width : (k + 1) * width])
        else:  # biases, BatchNorm's arrays: the member's units
            width = value.shape[0] // members
            out.append(value[k * width : (k + 1) * width])
    return tuple(out)


def _train(estimator, network, optimizer, weights, X, y):
    rules = estimator._training_rules(16, early_stopping=False, incremental=False)
    return train(
        network,
        optimizer,
        weights,
        initial_optimizer_state(optimizer, network),
        TrainingData(X, y.reshape(-1, 1), None),
        rules,
        TrainingState(),
        np.random.default_rng(1),  # the same shuffling for every network
        [],
    ).weights


@pytest.mark.parametrize("batchnorm", [None, "before_activation"])
def test_each_member_trains_as_a_network_of_its_own(data, batchnorm):
    """The members of one model end where each, trained alone from the same
    weights on the same batches, ends: nothing passes between them. (Adam's
    epsilon is made negligible: the objective is the members' mean, which
    scales each member's gradient by 1 / n_members, and Adam's step is
    invariant to that scale up to epsilon.)"""
    X, y = data
    params = {**SMALL, "batchnorm": batchnorm, "alpha": 0.01, "epsilon": 1e-12}
    pack = NormNetRegressor(**params)
    pack_network, pack_optimizer = pack._specs(5, 1, 16)
    start = initial_weights(pack_network, np.random.default_rng(0))
    trained = _train(pack, pack_network, pack_optimizer, start, X, y)

    alone = NormNetRegressor(**{**params, "hidden_layer_sizes": (4, 2), "n_members": 1})
    network, optimizer = alone._specs(5, 1, 16)
    for k in range(3):
        own = _train(
            alone, network, optimizer, _member_weights(pack_network, start, k), X, y
        )
        for a, b in zip(_member_weights(pack_network, trained, k), own, strict=True):
            np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


def test_the_fitted_network_is_the_members_mean(data):
    X, y = data
    est = NormNetRegressor(**{**SMALL, "dropout_rate": 0.2}).fit(X, y)
    network, weights = est._network_spec, est._weights
    hidden = est.coefs_[1]
    assert [c.shape for c in est.coefs_] == [(5, 12), (12, 6), (6, 1)]
    # member k's units see member k's units of the layer before, only
    mask = np.kron(np.eye(3), np.ones((4, 2)))
    assert np.all(hidden[mask == 0] == 0) and np.all(hidden[mask == 1] != 0)
    members = []
    for k in range(3):
        arrays = zip(
            network.variables(), _member_weights(network, weights, k), strict=True
        )
        kernels, biases = [], []
        for var, value in arrays:
            (kernels if var.name == "kernel" else biases).append(np.float64(value))
        members.append(forward(X, kernels, biases, ["relu", "relu", "identity"]))
    np.testing.assert_allclose(
        est.predict(X), np.mean(members, axis=0).ravel(), rtol=1e-6, atol=1e-6
    )
    # model_ (a Keras copy) averages its members' outputs in a layer of its own
    np.testing.assert_allclose(
        est.model_.predict(X, verbose=0).ravel(), est.predict(X), rtol=1e-4, atol=1e-5
    )


def test_one_member_is_the_plain_network(data):
    X, y = data
    params = {**SMALL, "hidden_layer_sizes": (8,), "dropout_rate": 0.1}
    plain = NormNetRegressor(**{**params, "n_members": 1}).fit(X, y)
    assert plain.describe_layers(5) == (
        "Input(5)\nDense(8, relu)\nDropout(0.1)\nDense(1, identity)"
    )
    assert all(layer.members == 1 for layer in plain._network_spec.layers)


def test_describe_layers_shows_the_members():
    est = NormNetRegressor(hidden_layer_sizes=(64, 32), n_members=4, dropout_rate=0.0)
    assert est.describe_layers(10) == "\n".join(
        [
            "Input(10)",
            "Dense(64, relu)",
            "Dense(32, 4 members of 8, relu)",
            "Dense(4, 4 members of 1)",
            "Mean of the 4 members' outputs",
        ]
    )


def test_describe_layers_takes_the_mean_before_the_output_activation(data):
    X = data[0]
    clf = NormNetClassifier(**{**SMALL, "hidden_layer_sizes": (6,), "max_iter": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, np.array(["a", "b", "c"])[np.arange(len(X)) % 3])
    assert clf.describe_layers().splitlines()[-3:] == [
        "Dense(9, 3 members of 3)",
        "Mean of the 3 members' outputs",
        "Activation(softmax)",
    ]
    # a fitted estimator describes its fitted network, not later parameters
    clf.set_params(n_members=2, hidden_layer_sizes=(4,))
    assert clf.describe_layers().splitlines()[1] == "Dense(6, relu)"


@pytest.mark.parametrize("value", [0, -2, 2.0, "2", None, True])
def test_describe_layers_refuses_what_fit_refuses(value):
    est = NormNetRegressor(hidden_layer_sizes=(8,), n_members=value)
    with pytest.raises(ValueError, match="n_members"):
        est.describe_layers(5)


def test_sizes_that_do_not_split_are_an_error_that_changes_nothing(data):
    X, y = data
    est = NormNetRegressor(**{**SMALL, "n_members": 1}).fit(X, y)
    before = est.predict(X)
    est.set_params(n_members=5)
    with pytest.raises(ValueError, match=r"n_members=5 .* \(15, 10\)"):
        est.fit(X, y)
    np.testing.assert_array_equal(est.predict(X), before)
    assert est._network_spec.members == 1


def test_warm_start_refuses_another_number_of_members(data):
    X, y = data
    est = NormNetRegressor(**{**SMALL, "warm_start": True}).fit(X, y)
    est.set_params(n_members=2)
    with pytest.raises(ValueError, match=r"network changed .* n_members"):
        est.fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_keras_path_trains_the_members_as_the_engine_does(data):
    """With a callback the fit runs Keras' ``Model.fit`` on ``MemberDense``
    layers and the members' loss: the same training as the engine's."""
    X, y = data
    params = {**SMALL, "batchnorm": "after_activation", "alpha": 0.01}
    engine = NormNetRegressor(**params).fit(X, y)
    keras_fit = NormNetRegressor(**params, callbacks=[keras.callbacks.Callback()]).fit(
        X, y
    )
    np.testing.assert_allclose(keras_fit.loss_curve_, engine.loss_curve_, rtol=3e-5)
    for a, b in zip(keras_fit.coefs_, engine.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())


def test_classifier_members_average_their_logits(data):
    X, y = data
    labels = np.array(["low", "mid", "high"])[
        np.digitize(y, np.quantile(y, [0.3, 0.6]))
    ]
    clf = NormNetClassifier(**{**SMALL, "hidden_layer_sizes": (6,)}).fit(X, labels)
    assert clf.coefs_[-1].shape == (6, 3)  # the members' mean: one logit per class
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(clf.model_.predict(X, verbose=0), proba, atol=1e-5)
    binary = NormNetClassifier(**{**SMALL, "hidden_layer_sizes": (6,)}).fit(X, y > 0)
    np.testing.assert_allclose(
        binary.model_.predict(X, verbose=0).ravel(),
        binary.predict_proba(X)[:, 1],
        atol=1e-5,
    )


def test_n_members_is_a_grid_searchable_parameter(data):
    X, y = data
    search = GridSearchCV(
        NormNetRegressor(**{**SMALL, "max_iter": 2}),
        {"n_members": [1, 2]},
        cv=2,
        error_score="raise",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    assert search.best_estimator_.n_members in (1, 2)
    assert clone(search.best_estimator_).n_members == search.best_params_["n_members"]
