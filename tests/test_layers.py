"""The layer order: what ``model_.layers`` holds for every batchnorm placement.

The expected sequences are written out by hand (not derived from
``sknormnet._plan``), so a change in the plan shows up here as a failure.
"""

import warnings

import numpy as np
import pytest

from sknormnet import NormNetRegressor

keras = pytest.importorskip("keras")

N_FEATURES = 3
KERAS_ACTIVATION = {"relu": "relu", "tanh": "tanh", "identity": "linear"}


def layer_signature(layer):
    """A comparable tuple for one Keras layer, from its public config.

    (class name, units, activation, use_bias, dropout rate, BN scale, BN center);
    fields a layer does not have are None.
    """
    config = layer.get_config()
    return (
        type(layer).__name__,
        config.get("units"),
        config.get("activation"),
        config.get("use_bias"),
        config.get("rate"),
        config.get("scale"),
        config.get("center"),
    )


def signatures(model):
    return [layer_signature(layer) for layer in model.layers]


# Expected rows: (signature, describe_layers line). Hand-written constructors.
def dense(units, act, text_act=None, use_bias=True):
    if use_bias:
        text = f"Dense({units}, {text_act or act})"
    else:
        text = f"Dense({units}, no bias)"
    return ("Dense", units, act, use_bias, None, None, None), text


def batchnorm(scale=True):
    text = "BatchNorm" if scale else "BatchNorm(no scale)"
    return ("BatchNormalization", None, None, None, None, scale, True), text


def activation(act, text_act):
    return ("Activation", None, act, None, None, None, None), f"Activation({text_act})"


def dropout(rate):
    return ("Dropout", None, None, None, rate, None, None), f"Dropout({rate:g})"


def expected_layers(placement, act):
    """The hand-written layer list for hidden_layer_sizes=(8, 4), dropout 0.25."""
    k = KERAS_ACTIVATION[act]
    out = dense(1, "linear", "identity")
    if placement is None:
        return [dense(8, k, act), dropout(0.25), dense(4, k, act), dropout(0.25), out]
    if placement == "input":
        return [
            batchnorm(),
            dense(8, k, act),
            dropout(0.25),
            dense(4, k, act),
            dropout(0.25),
            out,
        ]
    if placement == "before_dense":
        return [
            batchnorm(),
            dense(8, k, act),
            dropout(0.25),
            batchnorm(),
            dense(4, k, act),
            dropout(0.25),
            batchnorm(),
            out,
        ]
    if placement == "before_activation":
        scale = act == "tanh"  # relu and identity absorb the scale downstream
        return [
            dense(8, "linear", use_bias=False),
            batchnorm(scale=scale),
            activation(k, act),
            dropout(0.25),
            dense(4, "linear", use_bias=False),
            batchnorm(scale=scale),
            activation(k, act),
            dropout(0.25),
            out,
        ]
    if placement == "after_activation":
        return [
            dense(8, k, act),
            dropout(0.25),
            batchnorm(),
            dense(4, k, act),
            dropout(0.25),
            batchnorm(),
            out,
        ]
    raise AssertionError(placement)


@pytest.fixture(scope="module")
def tiny_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, N_FEATURES))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=24)
    return X, y


def fit_small(X, y, **params):
    defaults = dict(
        hidden_layer_sizes=(8, 4), dropout_rate=0.25, max_iter=1, random_state=0
    )
    return NormNetRegressor(**{**defaults, **params}).fit(X, y)


@pytest.fixture(scope="module")
def fit_placement(tiny_data):
    """fit_placement(placement, act): a 1-epoch fit shared by this module."""
    cache = {}

    def get(placement, act):
        if (placement, act) not in cache:
            cache[placement, act] = fit_small(
                *tiny_data, batchnorm=placement, activation=act
            )
        return cache[placement, act]

    return get


PLACEMENTS = [None, "input", "before_dense", "before_activation", "after_activation"]


@pytest.mark.parametrize("act", ["relu", "tanh"])
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_layers_exact_sequence_per_placement(fit_placement, placement, act):
    reg = fit_placement(placement, act)
    expected = expected_layers(placement, act)

    assert signatures(reg.model_) == [sig for sig, _ in expected]
    assert reg.model_.input_shape == (None, N_FEATURES)

    expected_text = "\n".join([f"Input({N_FEATURES})", *(t for _, t in expected)])
    assert reg.describe_layers() == expected_text
    # The unfitted estimator describes the same network without building it.
    unfitted = NormNetRegressor(**reg.get_params())
    assert unfitted.describe_layers(n_features=N_FEATURES) == expected_text


@pytest.mark.parametrize(
    "act, scale", [("relu", False), ("identity", False), ("tanh", True)]
)
def test_layers_before_activation_drops_redundant_parameters(fit_placement, act, scale):
    reg = fit_placement("before_activation", act)
    hidden_dense = [
        layer
        for layer in reg.model_.layers
        if isinstance(layer, keras.layers.Dense) and layer.name != "output"
    ]
    bns = [
        layer
        for layer in reg.model_.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert len(hidden_dense) == 2 and len(bns) == 2
    # BatchNorm's beta does the bias's job.
    assert all(layer.use_bias is False for layer in hidden_dense)
    assert all(len(layer.get_weights()) == 1 for layer in hidden_dense)
    # gamma is only kept when the activation is not scale-equivariant.
    assert all(layer.scale is scale for layer in bns)
    assert all(layer.center is True for layer in bns)
    n_bn_weights = 4 if scale else 3  # [gamma,] beta, moving mean, moving variance
    assert all(len(layer.get_weights()) == n_bn_weights for layer in bns)
    # The output layer keeps its bias.
    assert reg.model_.get_layer("output").use_bias is True


def test_layers_per_layer_dropout_rates(tiny_data):
    X, y = tiny_data
    reg = fit_small(X, y, dropout_rate=[0.5, 0.0], activation="relu")
    # A zero rate adds no Dropout layer at all.
    assert signatures(reg.model_) == [
        dense(8, "relu")[0],
        dropout(0.5)[0],
        dense(4, "relu")[0],
        dense(1, "linear")[0],
    ]


# ------------------------------------------------------------ lesson recipes
def lesson_sequential(build):
    """Build the lesson's keras.Sequential (silencing Keras' input_shape warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return build(keras.layers)


def red_wine(layers):
    return keras.Sequential(
        [
            layers.Dense(1024, activation="relu", input_shape=[11]),
            layers.Dropout(0.3),
            layers.BatchNormalization(),
            layers.Dense(1024, activation="relu"),
            layers.Dropout(0.3),
            layers.BatchNormalization(),
            layers.Dense(1024, activation="relu"),
            layers.Dropout(0.3),
            layers.BatchNormalization(),
            layers.Dense(1),
        ]
    )


def spotify(layers):
    return keras.Sequential(
        [
            layers.Dense(128, activation="relu", input_shape=[18]),
            layers.Dropout(0.3),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(1),
        ]
    )


def concrete(layers):
    return keras.Sequential(
        [
            layers.BatchNormalization(input_shape=[8]),
            layers.Dense(512, activation="relu"),
            layers.BatchNormalization(),
            layers.Dense(512, activation="relu"),
            layers.BatchNormalization(),
            layers.Dense(512, activation="relu"),
            layers.BatchNormalization(),
            layers.Dense(1),
        ]
    )


RECIPES = {
    "red_wine": (
        red_wine,
        11,
        dict(
            hidden_layer_sizes=(1024,) * 3,
            dropout_rate=0.3,
            batchnorm="after_activation",
        ),
    ),
    "spotify": (spotify, 18, dict(hidden_layer_sizes=(128, 64), dropout_rate=0.3)),
    "concrete": (
        concrete,
        8,
        dict(
            hidden_layer_sizes=(512,) * 3,
            dropout_rate=0.0,
            batchnorm="before_dense",
            solver="sgd",
            momentum=0.0,
            learning_rate_init=0.01,
            loss="absolute_error",
        ),
    ),
}


@pytest.fixture(scope="module")
def fitted_recipes():
    """Each recipe fitted for one epoch on 20 rows of the lesson's input width."""
    rng = np.random.default_rng(0)
    fitted = {}
    for name, (_, n_features, params) in RECIPES.items():
        X = rng.normal(size=(20, n_features))
        y = rng.normal(size=20)
        fitted[name] = NormNetRegressor(max_iter=1, random_state=0, **params).fit(X, y)
    return fitted


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_layers_lesson_recipe_matches_lesson_model(fitted_recipes, recipe):
    build, n_features, _ = RECIPES[recipe]
    lesson = lesson_sequential(build)
    ours = fitted_recipes[recipe].model_

    assert signatures(ours) == signatures(lesson)
    assert ours.input_shape == lesson.input_shape == (None, n_features)
    assert ours.output_shape == lesson.output_shape == (None, 1)
    # Same parameter count: same layers with the same weights in them.
    assert ours.count_params() == lesson.count_params()


def test_layers_concrete_recipe_compiles_plain_sgd_and_mae(fitted_recipes):
    model = fitted_recipes["concrete"].model_
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert model.optimizer.get_config()["momentum"] == 0.0
    assert model.optimizer.get_config()["nesterov"] is False
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    assert isinstance(model.loss, keras.losses.MeanAbsoluteError)
