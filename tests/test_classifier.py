"""NormNetClassifier: targets, probabilities, class weights, stratified early
stopping, partial_fit, meta-estimators and learning on real data.

Every test trains tiny networks for a few epochs with a fixed ``random_state``;
fits shared by several tests are module-scoped fixtures.
"""

import copy
import pickle

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    check_cv,
    train_test_split,
)
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.class_weight import compute_sample_weight

from sknormnet import NormNetClassifier
from sknormnet._base import BaseNormNet
from sknormnet.datasets import load_red_wine

keras = pytest.importorskip("keras")

# Run exactly max_iter epochs: the training-loss stopping rule never fires.
NO_STOP = dict(tol=0.0, n_iter_no_change=1000)


def _clf(**params):
    defaults = dict(
        hidden_layer_sizes=(16,),
        max_iter=20,
        batch_size=32,
        learning_rate_init=0.01,
        random_state=0,
    )
    return NormNetClassifier(**{**defaults, **params})


def _keras_proba(clf, X):
    out = clf.model_(np.asarray(X, dtype="float32"), training=False)
    return keras.ops.convert_to_numpy(out).astype(np.float64)


@pytest.fixture(scope="module")
def three_class():
    X, y = make_classification(
        n_samples=300,
        n_features=6,
        n_informative=4,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=0,
    )
    return X, y


@pytest.fixture(scope="module")
def binary_fit(three_class):
    X, y = three_class
    labels = np.where(y == 0, "no", "yes")
    return X, labels, _clf().fit(X, labels)


@pytest.fixture(scope="module")
def multiclass_fit(three_class):
    X, y = three_class
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = _clf(dropout_rate=0.1, batchnorm="before_activation", batchnorm_momentum=0.5)
    return X, labels, clf.fit(X, labels)


@pytest.fixture(scope="module")
def multilabel_fit():
    X, Y = make_multilabel_classification(
        n_samples=200, n_features=6, n_classes=3, random_state=0
    )
    return X, Y, _clf().fit(X, Y)


@pytest.fixture(scope="module")
def fits(binary_fit, multiclass_fit, multilabel_fit):
    return {
        "binary": binary_fit,
        "multiclass": multiclass_fit,
        "multilabel": multilabel_fit,
    }


# ----------------------------------------------------------------- targets
def test_targets_binary_uses_one_sigmoid_output(binary_fit):
    X, _, clf = binary_fit
    assert list(clf.classes_) == ["no", "yes"]
    assert clf.out_activation_ == "logistic"
    assert clf.n_outputs_ == 1
    assert clf.coefs_[-1].shape[1] == 1
    assert clf.decision_function(X).shape == (len(X),)
    assert clf.predict_proba(X).shape == (len(X), 2)
    assert set(clf.predict(X)) <= {"no", "yes"}
    assert clf.describe_layers().splitlines()[-1] == "Dense(1, logistic)"


def test_targets_multiclass_uses_softmax_output(multiclass_fit):
    X, y, clf = multiclass_fit
    assert clf.out_activation_ == "softmax"
    assert clf.n_outputs_ == 3
    assert clf.predict_proba(X).shape == (len(X), 3)
    assert clf.decision_function(X).shape == (len(X), 3)
    assert clf.describe_layers().splitlines()[-1] == "Dense(3, softmax)"
    assert clf.score(X, y) > 0.8


def test_targets_multilabel_indicator(multilabel_fit):
    X, Y, clf = multilabel_fit
    assert list(clf.classes_) == [0, 1, 2]
    assert clf.out_activation_ == "logistic"
    assert clf.n_outputs_ == 3
    pred = clf.predict(X)
    assert pred.shape == Y.shape
    assert set(np.unique(pred)) <= {0, 1}
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape
    assert ((proba > 0) & (proba < 1)).all()
    # independent labels: rows do not sum to 1
    assert not np.allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(pred, (proba > 0.5).astype(int))
    # score is subset accuracy, as for any scikit-learn classifier
    assert clf.score(X, Y) == accuracy_score(Y, pred)


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["b", "c", "a"]),
        np.array([True, False, True]),
        np.array([10, -3, 7]),
        np.array([2.0, 0.0, 1.0]),
    ],
    ids=["str", "bool", "int", "float"],
)
def test_targets_label_types_keep_sklearn_order(three_class, labels):
    X, y = three_class
    target = labels[y]
    clf = _clf(max_iter=3).fit(X, target)
    mlp = MLPClassifier(max_iter=1).fit(X, target)
    np.testing.assert_array_equal(clf.classes_, mlp.classes_)
    np.testing.assert_array_equal(clf.classes_, np.unique(target))
    pred = clf.predict(X)
    assert pred.dtype == target.dtype
    assert set(pred) <= set(target)


def test_targets_pandas_categorical_series(three_class):
    pd = pytest.importorskip("pandas")
    X, y = three_class
    target = pd.Series(pd.Categorical(np.array(["lo", "mid", "hi"])[y]))
    clf = _clf(max_iter=3).fit(X, target)
    assert list(clf.classes_) == ["hi", "lo", "mid"]
    assert set(clf.predict(X)) <= {"hi", "lo", "mid"}


def test_targets_single_class_raises(three_class):
    X, _ = three_class
    clf = _clf()
    with pytest.raises(ValueError, match="1 class"):
        clf.fit(X, np.full(len(X), "only"))
    assert not hasattr(clf, "classes_")


@pytest.mark.parametrize(
    "y, match",
    [
        (np.linspace(0, 1, 300), "Unknown label type"),
        (np.tile([[0, 1], [2, 1], [1, 0]], (100, 1)), "multiclass-multioutput"),
    ],
    ids=["continuous", "multiclass-multioutput"],
)
def test_targets_unsupported_types_raise(three_class, y, match):
    X, _ = three_class
    with pytest.raises(ValueError, match=match):
        _clf().fit(X, y)


# ----------------------------------------------------------- probabilities
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_proba_rows_sum_to_one(fits, kind):
    X, _, clf = fits[kind]
    proba = clf.predict_proba(X)
    assert proba.dtype == np.float64
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_proba_log_proba_is_log_of_proba(fits, kind):
    X, _, clf = fits[kind]
    np.testing.assert_allclose(
        clf.predict_log_proba(X), np.log(clf.predict_proba(X)), rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_proba_stays_finite_when_logits_are_huge(fits, kind):
    X, _, fitted = fits[kind]
    clf = copy.copy(fitted)
    clf.coefs_ = [*fitted.coefs_[:-1], fitted.coefs_[-1] * 1e4]  # huge logits
    proba = clf.predict_proba(X)
    assert (proba == 0).any()
    assert np.isfinite(proba).all()  # softmax shifted by the row maximum
    if kind != "multilabel":
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    log_proba = clf.predict_log_proba(X)
    assert np.isfinite(log_proba).all()
    assert (log_proba < -700).any()


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_proba_numpy_pass_matches_keras(fits, kind):
    X, _, clf = fits[kind]
    proba = clf.predict_proba(X)
    keras_proba = _keras_proba(clf, X)  # the model ends with its sigmoid/softmax
    if kind == "binary":
        proba = proba[:, 1:]
    np.testing.assert_allclose(proba, keras_proba, rtol=0, atol=1e-5)


def test_decision_function_binary_agrees_with_predict_and_proba(binary_fit):
    X, _, clf = binary_fit
    scores = clf.decision_function(X)
    assert scores.ndim == 1
    np.testing.assert_array_equal(
        clf.predict(X), clf.classes_[(scores > 0).astype(int)]
    )
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], 1 / (1 + np.exp(-scores)))


def test_decision_function_multiclass_agrees_with_predict_and_proba(multiclass_fit):
    X, _, clf = multiclass_fit
    scores = clf.decision_function(X)
    winner = scores.argmax(axis=1)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[winner])
    np.testing.assert_array_equal(clf.predict_proba(X).argmax(axis=1), winner)
    # softmax of the logits
    expected = np.exp(scores - scores.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-12)


# -------------------------------------------------------------------- loss
@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_loss_is_mlpclassifier_log_loss(fits, kind):
    """Keras' compiled loss and the validation loss are MLPClassifier's log_loss:
    mean over rows of the cross-entropy summed over the outputs."""
    X, y, fitted = fits[kind]
    proba = fitted.predict_proba(X)
    if kind == "multilabel":  # binary cross-entropy summed over the labels
        expected = sum(log_loss(y[:, k], proba[:, k]) for k in range(y.shape[1]))
    else:
        expected = log_loss(y, proba, labels=fitted.classes_)
    target = fitted._label_binarizer.transform(y).astype("float32")
    X32 = X.astype("float32")
    keras_loss = float(
        fitted.model_.compute_loss(
            x=X32,
            y=target,
            y_pred=fitted.model_(X32, training=False),
            training=False,
        )
    )
    penalty = float(
        sum(np.sum(keras.ops.convert_to_numpy(w)) for w in fitted.model_.losses)
    )
    assert penalty > 0  # alpha's L2 term is part of Keras' loss
    assert keras_loss - penalty == pytest.approx(expected, rel=1e-4)

    # the NumPy validation loss of the same weights, penalty included
    clf = clone(fitted).set_params(max_iter=2)
    clf.fit(X, y, X_val=X, y_val=y)
    assert len(clf.history_["val_loss"]) == 2
    proba = clf.predict_proba(X)
    if kind == "multilabel":
        expected = sum(log_loss(y[:, k], proba[:, k]) for k in range(y.shape[1]))
    else:
        expected = log_loss(y, proba, labels=clf.classes_)
    penalty = float(
        sum(np.sum(keras.ops.convert_to_numpy(w)) for w in clf.model_.losses)
    )
    assert clf.history_["val_loss"][-1] == pytest.approx(expected + penalty, rel=1e-4)


def test_loss_rejects_regression_losses(three_class):
    X, y = three_class
    with pytest.raises(InvalidParameterError, match="loss"):
        _clf(loss="squared_error").fit(X, y)


def test_activation_softmax_is_not_a_hidden_activation(three_class):
    X, y = three_class
    with pytest.raises(InvalidParameterError, match="activation"):
        _clf(activation="softmax").fit(X, y)


# ------------------------------------------------------------ class_weight
@pytest.fixture(scope="module")
def imbalanced():
    X, y = make_classification(
        n_samples=400,
        n_features=5,
        n_informative=3,
        weights=[0.9, 0.1],
        class_sep=0.5,
        flip_y=0.05,
        random_state=3,
    )
    return X, np.where(y == 1, "rare", "common")


def test_class_weight_balanced_raises_minority_recall(imbalanced):
    X, y = imbalanced
    plain = _clf(max_iter=30).fit(X, y)
    balanced = _clf(max_iter=30, class_weight="balanced").fit(X, y)
    rare = y == "rare"
    recall_plain = np.mean(plain.predict(X)[rare] == "rare")
    recall_balanced = np.mean(balanced.predict(X)[rare] == "rare")
    assert recall_balanced > recall_plain + 0.2
    assert np.mean(balanced.predict(X) == "rare") > np.mean(plain.predict(X) == "rare")


def test_class_weight_balanced_is_sklearn_formula(imbalanced):
    X, y = imbalanced
    # scikit-learn's definition: n_samples / (n_classes * count of the class)
    labels, counts = np.unique(y, return_counts=True)
    formula = dict(zip(labels, len(y) / (len(labels) * counts), strict=True))
    weights = np.array([formula[label] for label in y])
    np.testing.assert_allclose(compute_sample_weight("balanced", y), weights)
    by_class_weight = _clf(max_iter=3, class_weight="balanced").fit(X, y)
    by_sample_weight = _clf(max_iter=3).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(
        by_class_weight.predict_proba(X),
        by_sample_weight.predict_proba(X),
        rtol=1e-5,
        atol=1e-6,
    )


def test_class_weight_dict_multiplies_sample_weight(imbalanced):
    X, y = imbalanced
    sample_weight = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    class_weight = {"common": 1.0, "rare": 4.0}
    combined = sample_weight * np.where(y == "rare", 4.0, 1.0)
    by_both = _clf(max_iter=3, class_weight=class_weight).fit(
        X, y, sample_weight=sample_weight
    )
    by_product = _clf(max_iter=3).fit(X, y, sample_weight=combined)
    np.testing.assert_allclose(
        by_both.predict_proba(X), by_product.predict_proba(X), rtol=1e-5, atol=1e-6
    )
    unweighted = _clf(max_iter=3).fit(X, y, sample_weight=sample_weight)
    assert not np.allclose(by_both.predict_proba(X), unweighted.predict_proba(X))


def test_class_weight_leaves_sample_weight_unmodified(imbalanced):
    X, y = imbalanced
    sample_weight = np.ones(len(y), dtype=np.float32)
    _clf(max_iter=1, class_weight="balanced").fit(X, y, sample_weight=sample_weight)
    np.testing.assert_array_equal(sample_weight, 1.0)


def test_class_weight_multilabel_raises(multilabel_fit):
    X, Y, _ = multilabel_fit
    with pytest.raises(ValueError, match="multilabel"):
        _clf(class_weight="balanced").fit(X, Y)


def test_class_weight_balanced_partial_fit_raises(three_class):
    X, y = three_class
    clf = _clf(class_weight="balanced")
    with pytest.raises(ValueError, match="balanced"):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert not hasattr(clf, "classes_")


def test_class_weight_dict_in_partial_fit_uses_all_classes(three_class):
    """A batch without some class still gets the dict's weights for the rest."""
    X, y = three_class
    batch = y != 2
    # class 0 is not in the dict (weight 1); the batch has no class 2
    weighted = _clf(class_weight={1: 3.0, 2: 5.0})
    weighted.partial_fit(X[batch], y[batch], classes=[0, 1, 2])
    reference = _clf()
    reference.partial_fit(
        X[batch],
        y[batch],
        classes=[0, 1, 2],
        sample_weight=np.where(y[batch] == 1, 3.0, 1.0),
    )
    np.testing.assert_allclose(
        weighted.predict_proba(X), reference.predict_proba(X), rtol=1e-5, atol=1e-6
    )


# --------------------------------------------------------- early stopping
@pytest.fixture
def split_spy(monkeypatch):
    """Records the row ids (column 0 of X) on each side of the validation split."""
    seen = []
    original = BaseNormNet._split_validation

    def spy(self, *args, **kwargs):
        X_train, y_train, sw, validation = original(self, *args, **kwargs)
        if validation is not None:
            seen.append((X_train[:, 0].astype(int), validation[0][:, 0].astype(int)))
        return X_train, y_train, sw, validation

    monkeypatch.setattr(BaseNormNet, "_split_validation", spy)
    return seen


@pytest.fixture(scope="module")
def rare_class_data():
    """200 rows, 10 of class 'c': column 0 is the row id."""
    rng = np.random.default_rng(0)
    y = np.array(["a"] * 120 + ["b"] * 70 + ["c"] * 10)
    X = np.column_stack([np.arange(len(y)), rng.normal(size=(len(y), 3))])
    X[:, 1] += (y == "b") * 2.0 - (y == "c") * 2.0
    return X, y


@pytest.mark.parametrize("seed", range(5))
def test_early_stopping_split_keeps_class_proportions(split_spy, rare_class_data, seed):
    X, y = rare_class_data
    _clf(
        max_iter=2, early_stopping=True, validation_fraction=0.2, random_state=seed
    ).fit(X, y)
    (train, val), *_ = split_spy
    assert len(val) == 40
    assert len(np.intersect1d(train, val)) == 0
    values, counts = np.unique(y[val], return_counts=True)
    # exactly a fifth of each class (a random split misses this most times)
    assert dict(zip(values, counts, strict=True)) == {"a": 24, "b": 14, "c": 2}


def test_early_stopping_split_groups_are_disjoint(split_spy, rare_class_data):
    X, y = rare_class_data
    groups = np.arange(len(y)) // 8  # 25 groups of 8 rows
    _clf(max_iter=2, early_stopping=True, validation_fraction=0.2).fit(
        X, y, groups=groups
    )
    (train, val), *_ = split_spy
    assert len(train) + len(val) == len(y)
    assert set(groups[train]).isdisjoint(groups[val])
    assert len(set(groups[val])) == 5


def test_early_stopping_multilabel_holds_out_validation_fraction(
    split_spy, multilabel_fit
):
    X, Y, _ = multilabel_fit
    X = np.column_stack([np.arange(len(X)), X])
    clf = _clf(max_iter=2, early_stopping=True, **NO_STOP).fit(X, Y)
    (train, val), *_ = split_spy
    assert (len(train), len(val)) == (180, 20)
    assert len(clf.validation_scores_) == 2
    # subset accuracy of the restored best epoch on the held-out rows
    assert clf.best_validation_score_ == pytest.approx(
        accuracy_score(Y[val], clf.predict(X[val]))
    )


def test_early_stopping_validation_scores_are_accuracies(split_spy, rare_class_data):
    X, y = rare_class_data
    clf = _clf(max_iter=15, early_stopping=True, validation_fraction=0.2, **NO_STOP)
    clf.fit(X, y)
    (_, val), *_ = split_spy
    assert len(clf.validation_scores_) == 15
    assert clf.history_["val_score"] == clf.validation_scores_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    # the best epoch's weights are restored: its score is the val accuracy
    accuracy = accuracy_score(y[val], clf.predict(X[val]))
    assert accuracy == pytest.approx(clf.best_validation_score_)
    # accuracies of 40 rows are multiples of 1/40
    scores = np.array(clf.validation_scores_) * 40
    np.testing.assert_allclose(scores, np.round(scores), atol=1e-9)


def test_early_stopping_x_val_labels_are_scored(three_class):
    X, y = three_class
    labels = np.array(["x", "y", "z"])[y]
    clf = _clf(max_iter=3, **NO_STOP).fit(
        X[:200], labels[:200], X_val=X[200:], y_val=labels[200:]
    )
    assert clf.validation_scores_[-1] == pytest.approx(clf.score(X[200:], labels[200:]))


def test_early_stopping_x_val_unseen_label_raises(three_class):
    X, y = three_class
    y_val = y[200:].copy()
    y_val[0] = 7
    with pytest.raises(ValueError, match=r"not in `self\.classes_`"):
        _clf(max_iter=1).fit(X[:200], y[:200], X_val=X[200:], y_val=y_val)


# ------------------------------------------------------------- partial_fit
def test_partial_fit_first_call_requires_classes(three_class):
    X, y = three_class
    clf = _clf()
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "classes_")
    assert not hasattr(clf, "model_")


def test_partial_fit_first_call_batch_may_miss_classes(three_class):
    X, y = three_class
    clf = _clf()
    clf.partial_fit(X[y < 2], y[y < 2], classes=np.array([2, 0, 1]))
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.out_activation_ == "softmax"
    assert clf.predict_proba(X).shape == (len(X), 3)
    clf.partial_fit(X, y)  # classes optional from now on
    clf.partial_fit(X, y, classes=[0, 1, 2])  # or the same ones again
    assert len(clf.loss_curve_) == 3


def test_partial_fit_unseen_label_raises_and_keeps_fit(three_class):
    X, y = three_class
    clf = _clf()
    clf.partial_fit(X, y, classes=[0, 1, 2])
    proba = clf.predict_proba(X)
    y_new = y.copy()
    y_new[0] = 3
    with pytest.raises(ValueError, match=r"not in `self\.classes_`"):
        clf.partial_fit(X, y_new)
    with pytest.raises(ValueError, match="is not the same as on last call"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    assert len(clf.loss_curve_) == 1


def test_partial_fit_first_call_labels_outside_classes_raise(three_class):
    X, y = three_class
    clf = _clf()
    with pytest.raises(ValueError, match=r"not in `self\.classes_`"):
        clf.partial_fit(X, y, classes=[0, 1])
    assert not hasattr(clf, "classes_")


def test_partial_fit_continues_a_fit(three_class):
    X, y = three_class
    clf = _clf(max_iter=2, **NO_STOP).fit(X, y)
    clf.partial_fit(X[y == 0], y[y == 0])  # classes_ known from fit
    assert len(clf.loss_curve_) == 3


def test_partial_fit_multilabel_classes_are_label_indices(multilabel_fit):
    X, Y, _ = multilabel_fit
    clf = _clf()
    with pytest.raises(ValueError, match=r"np\.arange"):
        clf.partial_fit(X, Y, classes=["a", "b", "c"])
    clf.partial_fit(X, Y, classes=[0, 1, 2])
    assert clf.predict(X).shape == Y.shape


def test_warm_start_requires_same_classes(three_class):
    X, y = three_class
    clf = _clf(max_iter=2, warm_start=True, **NO_STOP).fit(X, y)
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X[y < 2], y[y < 2])
    clf.fit(X, y)
    assert len(clf.loss_curve_) == 4


# ------------------------------------------------------- meta-estimators
def test_meta_is_classifier_gets_stratified_folds(three_class):
    _, y = three_class
    clf = NormNetClassifier()
    assert is_classifier(clf)
    assert isinstance(check_cv(3, y, classifier=is_classifier(clf)), StratifiedKFold)


@pytest.fixture(scope="module")
def spotify_binary(spotify_like):
    frame, y = spotify_like
    popular = np.where(y > np.median(y), "popular", "niche")
    return frame, popular


def test_meta_grid_search_pipeline_column_transformer(spotify_binary):
    frame, y = spotify_binary
    numeric = ["danceability", "energy", "loudness", "tempo"]
    model = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), numeric),
                        ("genre", OneHotEncoder(), ["playlist_genre"]),
                    ]
                ),
            ),
            ("clf", _clf(max_iter=15, **NO_STOP)),
        ]
    )
    grid = {
        "clf__dropout_rate": [0.0, 0.3],
        "clf__batchnorm": [None, "before_activation"],
    }
    search = GridSearchCV(
        model,
        grid,
        cv=2,
        scoring=["roc_auc", "neg_log_loss"],
        refit="neg_log_loss",
        error_score="raise",
    ).fit(frame, y)
    results = search.cv_results_
    assert len(results["params"]) == 4
    for key in ("mean_test_roc_auc", "mean_test_neg_log_loss"):
        assert np.isfinite(results[key]).all()
    # learnable signal: clearly better than chance and than the prior
    assert results["mean_test_roc_auc"].max() > 0.75
    prior = log_loss(
        y, np.tile([np.mean(y == "niche"), np.mean(y == "popular")], (len(y), 1))
    )
    assert -results["mean_test_neg_log_loss"].max() < prior
    best = search.best_estimator_
    assert list(best.classes_) == ["niche", "popular"]
    assert best.named_steps["clf"].batchnorm == search.best_params_["clf__batchnorm"]
    assert set(best.predict(frame.head())) <= {"niche", "popular"}


def test_meta_calibrated_classifier_cv(three_class):
    X, y = three_class
    calibrated = CalibratedClassifierCV(_clf(max_iter=10), cv=2).fit(X, y)
    proba = calibrated.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert len(calibrated.calibrated_classifiers_) == 2
    assert all(
        isinstance(c.estimator, NormNetClassifier)
        for c in calibrated.calibrated_classifiers_
    )
    assert calibrated.score(X, y) > 0.8


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_meta_pickle_round_trip_identical_proba(fits, kind):
    X, _, clf = fits[kind]
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))
    np.testing.assert_array_equal(restored.classes_, clf.classes_)
    np.testing.assert_allclose(
        _keras_proba(restored, X[:20]), _keras_proba(clf, X[:20]), rtol=0, atol=0
    )


def test_meta_clone_keeps_class_weight_and_loss():
    clf = NormNetClassifier(class_weight={"a": 2.0}, dropout_rate=0.2)
    params = clone(clf).get_params()
    assert params["class_weight"] == {"a": 2.0}
    assert params["loss"] == "log_loss"
    assert set(params) == set(NormNetClassifier._parameter_constraints)


def test_meta_shared_defaults_match_mlpclassifier():
    ours = NormNetClassifier().get_params()
    theirs = MLPClassifier().get_params()
    shared = set(ours) & set(theirs)
    assert {"hidden_layer_sizes", "activation", "alpha", "solver", "tol"} <= shared
    assert {name: ours[name] for name in shared} == {
        name: theirs[name] for name in shared
    }


def test_describe_layers_before_fit_shows_sigmoid_output():
    clf = NormNetClassifier(hidden_layer_sizes=(8,), batchnorm="before_dense")
    assert clf.describe_layers(n_features=4).splitlines() == [
        "Input(4)",
        "BatchNorm",
        "Dense(8, relu)",
        "BatchNorm",
        "Dense(1, logistic)",
    ]


# ---------------------------------------------------------------- learning
def test_learning_easy_synthetic_accuracy():
    X, y = make_classification(
        n_samples=900,
        n_features=10,
        n_informative=6,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=0,
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    clf = _clf(hidden_layer_sizes=(32,), max_iter=40).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.9


def test_learning_red_wine_beats_majority_baseline():
    X, quality = load_red_wine(return_X_y=True)
    y = np.where(quality >= 6, "good", "not good")
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    majority = max(np.mean(y_test == "good"), np.mean(y_test == "not good"))
    assert majority == pytest.approx(0.535)
    clf = NormNetClassifier(
        hidden_layer_sizes=(64, 32),
        dropout_rate=0.2,
        batchnorm="input",  # the features are unscaled
        batch_size=64,
        learning_rate_init=0.003,
        max_iter=50,
        random_state=0,
    ).fit(X_train, y_train)
    accuracy = clf.score(X_test, y_test)
    assert accuracy > 0.75
    assert accuracy > majority + 0.2


def test_learning_red_wine_pipeline_with_scaler():
    X, quality = load_red_wine(return_X_y=True)
    y = quality >= 6  # bool labels
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    model = make_pipeline(
        StandardScaler(),
        _clf(
            hidden_layer_sizes=(32,),
            batch_size=64,
            learning_rate_init=0.003,
            max_iter=40,
        ),
    ).fit(X_train, y_train)
    assert model.score(X_test, y_test) > 0.72
    assert model.predict(X_test).dtype == bool
