"""NormNetClassifier: a multi-layer perceptron classifier with dropout and batchnorm."""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_expit, log_softmax
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_array
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import (
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import column_or_1d

from ._base import BaseNormNet
from ._compat import StrOptions, _check_partial_fit_first_call, _fit_context
from ._docs import render
from ._forward import ACTIVATION_FUNCTIONS
from ._names import CLASSIFICATION_LOSSES

_MULTILABEL = "multilabel-indicator"


class NormNetClassifier(ClassifierMixin, BaseNormNet):
    """Multi-layer perceptron classifier with dropout and batch normalization.

    A drop-in for :class:`~sklearn.neural_network.MLPClassifier` (same parameter
    names and defaults where the meaning carries over) that trains a Keras 3
    network, with dropout and the placement of BatchNormalization layers as
    ordinary, grid-searchable parameters. Binary, multiclass and multilabel
    targets; labels of any type scikit-learn accepts (ints, strings, bools).

    Parameters
    ----------
    hidden_layer_sizes : array-like of int or int, default=(100,)
        The ith element is the number of units of the ith hidden Dense layer.
        At least one hidden layer.

    activation : {'identity', 'logistic', 'tanh', 'relu', 'elu', 'selu', \
'gelu', 'swish'}, default='relu'
        Activation of the hidden layers. The first four are MLPClassifier's;
        'logistic' is the sigmoid, 'swish' is x * sigmoid(x). The output
        layer's activation follows the target instead (``out_activation_``).

    dropout_rate : float in [0, 1) or array-like of such floats, default=0.0
        Fraction of each hidden layer's outputs that Dropout zeroes at every
        training step (the survivors are scaled by ``1 / (1 - rate)``). One
        float for every hidden layer, or one rate per hidden layer. A rate of
        0 adds no Dropout layer. Dropout is inactive at prediction.

    {batchnorm}

    {batchnorm_momentum}

    {n_members}

    {solver}

    {alpha}

    batch_size : int or 'auto', default='auto'
        Rows per training step; 'auto' is ``min(200, n_samples)``. Capped at
        ``n_samples``. Every step uses a full batch: see Notes.

    learning_rate_init : float, default=0.001
        The optimizer's learning rate.

    {max_iter}

    {shuffle}

    {random_state}

    {momentum}

    {nesterovs_momentum}

    {beta_1}

    {beta_2}

    {epsilon}

    {learning_rate}

    {power_t}

    early_stopping : bool, default=False
        Whether to hold out ``validation_fraction`` of the training rows
        (or use ``X_val``/``y_val`` passed to :meth:`fit`) and stop when the
        validation accuracy has not improved by ``tol`` for
        ``n_iter_no_change`` consecutive epochs. The weights of the best epoch
        are restored at the end. The split is made by scikit-learn and seeded
        from ``random_state``: ``StratifiedShuffleSplit`` for binary and
        multiclass targets, so that both sides keep the class proportions;
        ``ShuffleSplit`` for multilabel ones; ``GroupShuffleSplit`` whenever
        ``groups`` is passed to :meth:`fit` (no group on both sides takes
        precedence over stratification). Never Keras' ``validation_split``.

    {validation_fraction}

    {n_iter_no_change}

    {tol}

    weight_averaging : float in [0, 1), default=0.0
        Momentum of an exponential moving average of the weights over
        epochs: after each epoch, ``average = weight_averaging * average +
        (1 - weight_averaging) * weights`` (the first epoch's weights start
        it; BatchNorm's moving statistics are averaged too). Training goes
        on from the raw weights; the average is what the validation set
        scores, what early stopping keeps as the best epoch, and the fitted
        network. 0, the default, turns it off, as in MLPClassifier. Not used
        by :meth:`partial_fit`.

    warm_start : bool, default=False
        When True, :meth:`fit` continues training ``model_`` (weights and
        optimizer state) for up to ``max_iter`` more epochs instead of
        building a new network; the learning rate restarts at
        ``learning_rate_init``. The network's shape and ``y``'s classes must
        not change between such fits.

    {callbacks}

    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes, as ``{label: weight}``; multiplied into
        ``sample_weight``. 'balanced' gives each class
        ``n_samples / (n_classes * n_samples_of_the_class)`` in the ``y``
        passed to :meth:`fit` (scikit-learn's ``compute_class_weight``).
        The rows held out by ``early_stopping`` keep these weights, so the
        validation accuracy is weighted too (with 'balanced', close to the
        balanced accuracy, as the split keeps the class proportions).
        Not with multilabel targets (weight the rows with ``sample_weight``),
        and :meth:`partial_fit` takes a dict only.

    loss : {'log_loss'}, default='log_loss'
        Training loss: MLPClassifier's cross-entropy, the mean over rows of
        ``-sum_k y_k log p_k`` (binary cross-entropy summed over the labels
        for multilabel targets).

    {verbose}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted as scikit-learn sorts them (``np.unique``);
        for multilabel targets, ``arange(n_labels)``.

    {model_}

    {history_}

    {loss_}

    {loss_curve_}

    {best_loss_}

    validation_scores_ : list of float or None
        The validation accuracy after each epoch (subset accuracy for
        multilabel targets, weighted by the validation rows' weights), when
        validation data was scored (``early_stopping=True`` or ``X_val``
        passed), else None.

    {best_validation_score_}

    {n_iter_}

    {t_}

    {callbacks_}

    {coefs_}

    {intercepts_}

    {n_layers_}

    n_outputs_ : int
        Number of output units: 1 for a binary target, ``n_classes`` for a
        multiclass one, ``n_labels`` for a multilabel one.

    out_activation_ : str
        Activation of the output layer: 'logistic' (sigmoid) for binary and
        multilabel targets, 'softmax' for multiclass ones.

    {n_features_in_}

    {feature_names_in_}

    See Also
    --------
    sklearn.neural_network.MLPClassifier : The scikit-learn estimator this one
        mirrors, without dropout or batch normalization.
    NormNetRegressor : The regressor twin: same parameters, same training.

    Notes
    -----
    {epochs}

    The prediction methods run a float64 NumPy forward pass over ``coefs_``
    and ``intercepts_`` rather than calling Keras: :meth:`predict_proba`
    agrees with ``model_(X, training=False)`` to float32 precision.
    :meth:`decision_function` is the output layer before its activation (the
    logits), and :meth:`predict` thresholds it at 0 (binary, multilabel) or
    takes its largest entry (multiclass), so the three methods always agree.

    Before the first fit, :meth:`describe_layers` draws a sigmoid output (the
    binary and multilabel network); once fitted, the fitted one.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sknormnet import NormNetClassifier
    >>> X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    >>> clf = NormNetClassifier(hidden_layer_sizes=(32,), dropout_rate=0.1,
    ...                         batchnorm="input", max_iter=5, random_state=0)
    >>> clf.fit(X, y).predict_proba(X[:2]).shape
    (2, 2)
    >>> clf.classes_
    array([0, 1])
    >>> print(clf.describe_layers())
    Input(5)
    BatchNorm
    Dense(32, relu)
    Dropout(0.1)
    Dense(1, logistic)
    """

    _parameter_constraints: dict = {
        **BaseNormNet._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "loss": [StrOptions(set(CLASSIFICATION_LOSSES))],
    }
    _y_numeric = False

    def __init__(
        self,
        *,
        hidden_layer_sizes=(100,),
        activation="relu",
        dropout_rate=0.0,
        batchnorm=None,
        batchnorm_momentum=0.99,
        n_members=1,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate_init=0.001,
        max_iter=200,
        shuffle=True,
        random_state=None,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        learning_rate="constant",
        power_t=0.5,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        weight_averaging=0.0,
        warm_start=False,
        callbacks=None,
        class_weight=None,
        loss="log_loss",
        verbose=0,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            dropout_rate=dropout_rate,
            batchnorm=batchnorm,
            batchnorm_momentum=batchnorm_momentum,
            n_members=n_members,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            learning_rate=learning_rate,
            power_t=power_t,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            weight_averaging=weight_averaging,
            warm_start=warm_start,
            callbacks=callbacks,
            verbose=verbose,
        )
        self.class_weight = class_weight
        self.loss = loss

    @property
    def _out_activation(self) -> str:
        # The current target's (set from _prepare_target's attributes during a
        # fit); before any fit, the binary network's.
        return getattr(self, "out_activation_", "logistic")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X,
        y,
        sample_weight=None,
        groups=None,
        X_val=None,
        y_val=None,
        sample_weight_val=None,
    ):
        """Fit the network to X and y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. DataFrames keep their column names
            (``feature_names_in_``); CSR/CSC matrices are accepted.

        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels (ints, strings, bools, ...), or a 0/1 indicator
            matrix for multilabel classification.

        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights of the training loss (and of the validation
            rows held out by ``early_stopping``), multiplied by the
            ``class_weight`` of each row's class.

        groups : array-like of shape (n_samples,), default=None
            Group labels. With ``early_stopping=True`` the validation rows are
            held out by whole groups (``GroupShuffleSplit``), so no group is on
            both sides. Unused otherwise. In a meta-estimator, request it with
            ``set_fit_request(groups=True)`` (metadata routing).

        X_val : {array-like, sparse matrix} of shape (n_val, n_features), \
default=None
            Validation data, scored after every epoch (``history_['val_loss']``,
            ``validation_scores_``). With ``early_stopping=True`` it replaces
            the internal split and drives stopping. In a ``Pipeline``, use
            ``Pipeline(..., transform_input=["X_val"])`` so that it goes
            through the same preprocessing as ``X``.

        y_val : array-like of shape (n_val,) or (n_val, n_labels), default=None
            Validation labels, among those of ``y``; required with ``X_val``.

        sample_weight_val : array-like of shape (n_val,), default=None
            Weights of the validation rows.

        Returns
        -------
        self : object
            The fitted estimator. When fitting fails, the error is raised and
            the estimator is left exactly as it was before the call.
        """
        return self._fit(
            X,
            y,
            sample_weight=sample_weight,
            groups=groups,
            X_val=X_val,
            y_val=y_val,
            sample_weight_val=sample_weight_val,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Train for one epoch on X and y, building the network on the first call.

        Later calls continue the same network and optimizer state (Adam's
        moments, SGD's momentum, the current learning rate). ``max_iter``,
        ``early_stopping`` and the stopping rule do not apply.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, among ``classes``; or a 0/1 indicator matrix.

        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights of the training loss.

        classes : array-like of shape (n_classes,), default=None
            Every class of the whole training set, e.g. ``np.unique(y_all)``.
            Required on the first call (unless :meth:`fit` came first), and
            then optional; ``y`` needs not contain all of them. For multilabel
            targets, ``np.arange(n_labels)``.

        Returns
        -------
        self : object
            The estimator, trained one more epoch.
        """
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: one "
                "batch's class counts are not the data's. Compute the weights "
                "once, e.g. compute_class_weight('balanced', classes=classes, "
                "y=y_all), and pass them as a dict {label: weight}."
            )
        return self._fit(
            X, y, sample_weight=sample_weight, incremental=True, classes=classes
        )

    # ------------------------------------------------------------------ target
    def _prepare_target(self, y, first_pass, incremental, classes):
        if incremental:
            # scikit-learn's partial_fit contract: classes on the first call,
            # the same ones on later calls (sets classes_ on the fit's copy).
            _check_partial_fit_first_call(self, classes)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y")
        if y_type not in ("binary", "multiclass", _MULTILABEL):
            raise ValueError(
                "NormNetClassifier supports binary, multiclass and multilabel "
                f"(0/1 indicator matrix) targets; y is {y_type}."
            )
        if not first_pass:
            binarizer = self._label_binarizer
            self._check_labels(y, binarizer, same_set=self.warm_start, name="y")
            return binarizer.transform(y).astype(np.float32), {}

        binarizer = LabelBinarizer()
        if classes is None:
            binarizer.fit(y)
        elif y_type == _MULTILABEL:
            binarizer.fit(y)
            if not np.array_equal(unique_labels(classes), binarizer.classes_):
                raise ValueError(
                    f"For a multilabel y with {y.shape[1]} labels, classes must "
                    f"be np.arange({y.shape[1]}); got {classes!r}."
                )
        else:
            binarizer.fit(classes)
            self._check_labels(y, binarizer, same_set=False, name="y")
        if binarizer.y_type_ != _MULTILABEL and len(binarizer.classes_) < 2:
            raise ValueError(
                f"y has 1 class ({binarizer.classes_[0]!r}); a classifier needs "
                "samples of at least 2 classes."
            )
        attrs = {
            "_label_binarizer": binarizer,
            "classes_": binarizer.classes_,
            "out_activation_": (
                "softmax" if binarizer.y_type_ == "multiclass" else "logistic"
            ),
        }
        return binarizer.transform(y).astype(np.float32), attrs

    @staticmethod
    def _check_labels(y, binarizer, *, same_set: bool, name: str) -> None:
        """Raise unless y's target type and labels fit the fitted ``binarizer``."""
        multilabel = type_of_target(y, input_name=name) == _MULTILABEL
        if multilabel != (binarizer.y_type_ == _MULTILABEL):
            raise ValueError(
                f"{name} is {'a' if multilabel else 'not a'} multilabel indicator "
                f"matrix, but the classifier was fitted on a {binarizer.y_type_} "
                "target."
            )
        labels = unique_labels(y)
        classes = binarizer.classes_
        if same_set and set(labels) != set(classes):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as "
                f"in the previous call to fit. Previously got {classes}, `{name}` "
                f"has {labels}."
            )
        if multilabel and len(labels) != len(classes):
            raise ValueError(
                f"{name} has {len(labels)} labels, but the classifier was "
                f"fitted on {len(classes)}."
            )
        unseen = np.setdiff1d(labels, classes)
        if len(unseen):
            raise ValueError(
                f"`{name}` has classes not in `self.classes_`: {unseen}. "
                f"`self.classes_` has {classes}."
            )

    def _target_sample_weight(self, y, sample_weight):
        if self.class_weight is None:
            return sample_weight
        if self._label_binarizer.y_type_ == _MULTILABEL:
            raise ValueError(
                "class_weight is not supported for multilabel targets; weight "
                "the rows with sample_weight instead."
            )
        y = column_or_1d(y)  # a column vector was reported in _prepare_target
        per_class = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
        indicator = self._label_binarizer.transform(y)  # a row's class, one-hot
        index = indicator.ravel() if indicator.shape[1] == 1 else indicator.argmax(1)
        weights = per_class[index].astype(np.float32)
        return weights if sample_weight is None else sample_weight * weights

    def _stratification(self, y):
        # One label per row: stratify on it, as the user's labels (y is the
        # binarized target), so that scikit-learn's messages name them.
        if self._label_binarizer.y_type_ == _MULTILABEL:
            return None
        return self._label_binarizer.inverse_transform(y, threshold=0.5)

    def _prepare_validation_target(self, y_val):
        y_val = check_array(y_val, ensure_2d=False, dtype=None, input_name="y_val")
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = column_or_1d(y_val)
        binarizer = self._label_binarizer
        self._check_labels(y_val, binarizer, same_set=False, name="y_val")
        return binarizer.transform(y_val).astype(np.float64)

    def _validation_metrics(self, raw, y_val, sample_weight):
        # raw: the logits; the loss is computed from them as in training.
        from ._ops import mean_loss

        loss = mean_loss(self.loss, self.out_activation_, raw, y_val, sample_weight)
        if self.out_activation_ == "softmax":
            hit = np.argmax(raw, axis=1) == np.argmax(y_val, axis=1)
        else:
            hit = np.all((raw > 0) == (y_val > 0.5), axis=1)
        return loss, float(np.average(hit, weights=sample_weight))

    # -------------------------------------------------------------- predicting
    def decision_function(self, X):
        """The output layer's values before its sigmoid or softmax (the logits).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        scores : ndarray of shape (n_samples,), (n_samples, n_classes) or \
(n_samples, n_labels)
            In float64. For a binary target, 1-D: positive values favour
            ``classes_[1]``. Otherwise one column per class (multiclass,
            where the largest wins) or per label (multilabel, where positive
            means present).
        """
        logits = self._forward(X, logits=True)
        return logits.ravel() if self.n_outputs_ == 1 else logits

    def predict(self, X):
        """Predict class labels (dropout off, batchnorm in inference mode).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Labels from ``classes_``, or a 0/1 indicator matrix for
            multilabel targets.
        """
        logits = self._forward(X, logits=True)
        # threshold 0 on the logits is 0.5 on the probabilities (argmax for
        # multiclass, where the threshold is unused)
        return self._label_binarizer.inverse_transform(logits, threshold=0.0)

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes) or (n_samples, n_labels)
            In float64, columns in the order of ``classes_``. Binary and
            multiclass rows sum to 1; a multilabel column is the probability
            that its label is present.
        """
        logits = self._forward(X, logits=True)
        if self.n_outputs_ == 1:
            return np.hstack([expit(-logits), expit(logits)])
        return ACTIVATION_FUNCTIONS[self.out_activation_](logits)

    def predict_log_proba(self, X):
        """Logarithm of the probability estimates.

        Computed from the logits, so it stays finite where
        :meth:`predict_proba` rounds to 0.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes) or \
(n_samples, n_labels)
            ``log(predict_proba(X))``.
        """
        logits = self._forward(X, logits=True)
        if self.n_outputs_ == 1:
            return np.hstack([log_expit(-logits), log_expit(logits)])
        if self.out_activation_ == "softmax":
            return log_softmax(logits, axis=1)
        return log_expit(logits)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_label = True
        return tags


NormNetClassifier.__doc__ = render(
    NormNetClassifier.__doc__, mlp="MLPClassifier", score="accuracy"
)
