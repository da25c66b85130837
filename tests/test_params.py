"""Parameters: constraints, validation errors, atomic failure, no Keras import."""

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils.validation import check_is_fitted

from sknormnet import NormNetClassifier, NormNetRegressor


@pytest.fixture(scope="module")
def small_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    y = X[:, 0] - 2.0 * X[:, 1]
    return X, y


def test_params_every_param_has_a_constraint():
    params = set(NormNetRegressor().get_params())
    constraints = set(NormNetRegressor._parameter_constraints)
    assert params - constraints == set()
    # and no constraint for a parameter that does not exist
    assert constraints - params == set()


def test_params_shared_defaults_match_mlpregressor():
    ours = NormNetRegressor().get_params()
    theirs = MLPRegressor().get_params()
    shared = set(ours) & set(theirs)
    # the drop-in promise: the names that carry over include at least these
    assert {
        "hidden_layer_sizes",
        "activation",
        "solver",
        "alpha",
        "batch_size",
        "learning_rate_init",
        "max_iter",
        "shuffle",
        "random_state",
        "momentum",
        "nesterovs_momentum",
        "beta_1",
        "beta_2",
        "epsilon",
        "verbose",
    } <= shared
    # The defaults that differ on purpose, each documented in the docstring's
    # Notes ("Defaults") with the benchmark that motivates it.
    documented = {
        "hidden_layer_sizes": ((256, 256), (100,)),
        "batch_size": (512, "auto"),
        "learning_rate_init": (0.003, 0.001),
        "early_stopping": ("auto", False),
    }
    notes = NormNetRegressor.__doc__.split("**Defaults.**")[1].split("\n\n")[0]
    notes = " ".join(notes.split())
    for name, (mine, mlp) in documented.items():
        assert (ours[name], theirs[name]) == (mine, mlp)
        assert f"{name}={mlp!r}" in notes  # how to get MLPRegressor's back
    same = shared - set(documented)
    assert {name: ours[name] for name in same} == {name: theirs[name] for name in same}
    # the classifier keeps MLPClassifier's defaults
    ours = NormNetClassifier().get_params()
    theirs = MLPClassifier().get_params()
    shared = set(ours) & set(theirs)
    assert {name: ours[name] for name in shared} == {
        name: theirs[name] for name in shared
    }


# (parameters, name the error must mention)
INVALID = [
    (dict(dropout_rate=1.0), "dropout_rate"),
    (dict(dropout_rate=-0.1), "dropout_rate"),
    (dict(dropout_rate=float("nan")), "dropout_rate"),
    (dict(dropout_rate="0.1"), "dropout_rate"),
    (dict(hidden_layer_sizes=(8, 4), dropout_rate=[0.1]), "dropout_rate"),
    (dict(hidden_layer_sizes=(8, 4), dropout_rate=[0.1, 0.2, 0.3]), "dropout_rate"),
    (dict(hidden_layer_sizes=(8, 4), dropout_rate=[0.2, 1.5]), "dropout_rate"),
    (dict(hidden_layer_sizes=(8, 4), dropout_rate=[0.2, -0.1]), "dropout_rate"),
    (dict(hidden_layer_sizes=(8, 4), dropout_rate=[0.2, "a"]), "dropout_rate"),
    (dict(batchnorm="sideways"), "batchnorm"),
    (dict(batchnorm="None"), "batchnorm"),
    (dict(batchnorm=True), "batchnorm"),
    (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes"),
    (dict(hidden_layer_sizes=()), "hidden_layer_sizes"),
    (dict(hidden_layer_sizes=(8, -1)), "hidden_layer_sizes"),
    (dict(hidden_layer_sizes=(8, 2.5)), "hidden_layer_sizes"),
    (dict(hidden_layer_sizes=(8, True)), "hidden_layer_sizes"),
    (dict(hidden_layer_sizes=0), "hidden_layer_sizes"),
    (dict(hidden_layer_sizes="8"), "hidden_layer_sizes"),
    (dict(activation="sigmoidal"), "activation"),
    (dict(activation="softmax"), "activation"),
    (dict(solver="lbfgs"), "solver"),
    (dict(loss="hinge"), "loss"),
    (dict(alpha=-1), "alpha"),
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=2.5), "batch_size"),
    (dict(batch_size="all"), "batch_size"),
    (dict(learning_rate_init=0), "learning_rate_init"),
    (dict(learning_rate_init=-0.1), "learning_rate_init"),
    (dict(max_iter=0), "max_iter"),
    (dict(max_iter=2.5), "max_iter"),
    (dict(batchnorm_momentum=1.0), "batchnorm_momentum"),
    (dict(batchnorm_momentum=0.0), "batchnorm_momentum"),
    (dict(momentum=1.5), "momentum"),
    (dict(beta_1=1.0), "beta_1"),
    (dict(beta_2=-0.1), "beta_2"),
    (dict(epsilon=0.0), "epsilon"),
    (dict(shuffle="yes"), "shuffle"),
    (dict(random_state="seed"), "random_state"),
    (dict(verbose=-1), "verbose"),
]


def _id(case):
    params, _ = case
    return ",".join(f"{k}={v!r}" for k, v in params.items())


@pytest.mark.parametrize("params, name", INVALID, ids=[_id(c) for c in INVALID])
def test_params_invalid_value_raises_value_error_naming_it(small_data, params, name):
    X, y = small_data
    reg = NormNetRegressor(**{"max_iter": 1, "random_state": 0, **params})
    with pytest.raises(ValueError, match=re.escape(name)):
        reg.fit(X, y)
    # an unfitted estimator stays unfitted
    with pytest.raises(NotFittedError):
        check_is_fitted(reg)
    assert set(vars(reg)) == set(reg.get_params())


@pytest.mark.parametrize("name", ["dropout_rate", "hidden_layer_sizes"])
def test_params_zero_dim_array_gives_clear_error(small_data, name):
    X, y = small_data
    value = {"dropout_rate": np.array(0.1), "hidden_layer_sizes": np.array(8)}[name]
    reg = NormNetRegressor(max_iter=1, random_state=0, **{name: value})
    # Accepting it as the scalar would do too; a TypeError naming nothing would not.
    try:
        reg.fit(X, y)
    except ValueError as exc:
        assert name in str(exc)


@pytest.fixture(scope="module")
def fitted(small_data):
    X, y = small_data
    return NormNetRegressor(
        hidden_layer_sizes=(8, 4),
        dropout_rate=0.1,
        batchnorm="input",
        max_iter=3,
        random_state=0,
    ).fit(X, y)


# a subset of INVALID: both kinds of failure, the constraint checks that run
# before fit and the cross-parameter rules that run inside it
FAILED_REFITS = [
    dict(dropout_rate=1.0),
    dict(dropout_rate=[0.1]),
    dict(dropout_rate=[0.2, 1.5]),
    dict(hidden_layer_sizes=()),
    dict(hidden_layer_sizes=(8, -1)),
    dict(batchnorm="sideways"),
    dict(solver="lbfgs"),
    dict(max_iter=0),
]


@pytest.mark.parametrize(
    "bad", FAILED_REFITS, ids=[_id((p, "")) for p in FAILED_REFITS]
)
def test_params_failed_refit_leaves_fitted_estimator_unchanged(small_data, fitted, bad):
    X, y = small_data
    before_pred = fitted.predict(X)
    before = dict(vars(fitted))
    good = {name: before[name] for name in bad}

    fitted.set_params(**bad)
    try:
        with pytest.raises(ValueError):
            fitted.fit(X, y)
    finally:
        fitted.set_params(**good)

    after = vars(fitted)
    assert set(after) == set(before)
    # the very same fitted objects, not copies
    assert all(after[key] is before[key] for key in before)
    assert np.array_equal(fitted.predict(X), before_pred)
    check_is_fitted(fitted)


def test_params_init_stores_values_untouched():
    sizes = [8, 4]
    rates = np.array([0.1, 0.2])
    rs = np.random.RandomState(0)
    reg = NormNetRegressor(
        hidden_layer_sizes=sizes, dropout_rate=rates, random_state=rs
    )
    assert reg.hidden_layer_sizes is sizes
    assert reg.dropout_rate is rates
    assert reg.random_state is rs
    params = reg.get_params()
    assert params["hidden_layer_sizes"] is sizes
    assert params["dropout_rate"] is rates
    # no validation in __init__ or set_params: that is fit's job
    weird = NormNetRegressor(dropout_rate=5, activation="bogus", hidden_layer_sizes=())
    assert weird.dropout_rate == 5
    assert weird.activation == "bogus"
    assert weird.hidden_layer_sizes == ()
    assert weird.set_params(batchnorm="sideways") is weird
    assert weird.batchnorm == "sideways"
    # clone checks that __init__ stored every parameter as given
    cloned = clone(reg)
    assert cloned.hidden_layer_sizes == sizes
    assert cloned.hidden_layer_sizes is not sizes
    assert np.array_equal(cloned.dropout_rate, rates)


def test_params_set_params_then_clone_roundtrip():
    reg = NormNetRegressor().set_params(
        hidden_layer_sizes=(16, 8), dropout_rate=0.2, batchnorm="before_dense"
    )
    cloned = clone(reg)
    assert cloned.get_params() == reg.get_params()
    assert cloned.get_params()["batchnorm"] == "before_dense"


def test_params_import_get_params_clone_do_not_import_keras():
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        import sknormnet
        from sklearn.base import clone
        from sklearn.utils.validation import check_is_fitted
        from sklearn.exceptions import NotFittedError

        reg = clone(sknormnet.NormNetRegressor())
        reg.get_params()
        reg.set_params(hidden_layer_sizes=(8, 4), dropout_rate=0.1, batchnorm="input")
        clone(reg).get_params()
        reg.describe_layers()
        # failing parameter validation does not import Keras either
        X, y = np.zeros((10, 2)), np.zeros(10)
        for bad in ({"solver": "lbfgs"}, {"dropout_rate": [0.1]}):
            try:
                clone(reg).set_params(**bad).fit(X, y)
            except ValueError:
                pass
            else:
                raise SystemExit("fit accepted " + repr(bad))
        try:
            reg.predict(X)
        except NotFittedError:
            pass
        heavy = sorted(m for m in ("keras", "tensorflow", "jax", "torch")
                       if m in sys.modules)
        print("HEAVY:" + ",".join(heavy))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY:\n" in result.stdout, result.stdout
