"""The estimator base shared by NormNet estimators: parameters, validation, fit, predict."""

from __future__ import annotations

import copy
import random
import sys
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import (
    GroupShuffleSplit,
    ShuffleSplit,
    StratifiedShuffleSplit,
)
from sklearn.utils import check_random_state
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._compat import Interval, Options, StrOptions, _check_sample_weight
from ._forward import forward
from ._names import (
    ACTIVATIONS,
    BATCHNORM_PLACEMENTS,
    LEARNING_RATE_SCHEDULES,
    SOLVERS,
)
from ._plan import LayerSpec, describe_plan, layer_plan
from ._spec import (
    NetworkSpec,
    OptimizerSpec,
    fold,
    initial_optimizer_state,
    initial_weights,
    optimizer_spec,
)
from ._threads import limit_backend_threads

# Training squares values of the data's scale (squared errors, BatchNorm's
# variance, Adam's second moments): larger magnitudes overflow float32, where
# Adam silently freezes the weights they touch.
_TRAINABLE_MAX = float(np.sqrt(np.finfo(np.float32).max))
# early_stopping='auto' holds out a validation set from this many rows on (at
# least 30 validation rows with the default validation_fraction).
AUTO_EARLY_STOPPING_ROWS = 300
# The dtypes predict takes as they are (scikit-learn's dtype=(float64, float32)).
_FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
# Fitted attributes saved as plain data (``to_builtins``).
_SPEC_ATTRIBUTES = ("_network_spec", "_optimizer_spec", "_training_state")
# The largest network (number of weights) a fit builds: 2**31 float32 = 8 GiB.
_MAX_WEIGHTS = 2**31


class BaseNormNet(BaseEstimator, metaclass=ABCMeta):
    """Base class for NormNet estimators; use NormNetRegressor or NormNetClassifier.

    Subclasses define ``__init__`` (keyword-only, every parameter stored under
    its own name), ``_prepare_target`` and the public ``fit``/``predict``.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout_rate": [Interval(Real, 0, 1, closed="left"), "array-like"],
        "batchnorm": [StrOptions({k for k in BATCHNORM_PLACEMENTS if k}), None],
        "batchnorm_momentum": [Interval(Real, 0, 1, closed="neither")],
        "n_members": [Interval(Integral, 1, None, closed="left")],
        "solver": [StrOptions(set(SOLVERS))],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "learning_rate": [StrOptions(set(LEARNING_RATE_SCHEDULES))],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "tol": [Interval(Real, 0, None, closed="left")],
        "weight_averaging": [Interval(Real, 0, 1, closed="left")],
        "warm_start": ["boolean"],
        "callbacks": [list, None],
        "verbose": ["verbose"],
    }

    @abstractmethod
    def __init__(
        self,
        *,
        hidden_layer_sizes,
        activation,
        dropout_rate,
        batchnorm,
        batchnorm_momentum,
        n_members,
        solver,
        alpha,
        batch_size,
        learning_rate_init,
        max_iter,
        shuffle,
        random_state,
        momentum,
        nesterovs_momentum,
        beta_1,
        beta_2,
        epsilon,
        learning_rate,
        power_t,
        early_stopping,
        validation_fraction,
        n_iter_no_change,
        tol,
        weight_averaging,
        warm_start,
        callbacks,
        verbose,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout_rate = dropout_rate
        self.batchnorm = batchnorm
        self.batchnorm_momentum = batchnorm_momentum
        self.n_members = n_members
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.learning_rate = learning_rate
        self.power_t = power_t
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.weight_averaging = weight_averaging
        self.warm_start = warm_start
        self.callbacks = callbacks
        self.verbose = verbose

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _prepare_target(
        self, y, first_pass: bool, incremental: bool, classes
    ) -> tuple[np.ndarray, dict]:
        """Return the float32 2-D training target and the target's fitted attributes.

        Called on the fit's scratch copy, which gets the attributes as soon as
        this returns, so the hooks called later in the fit see the current
        target's: a classifier's classes and output activation.
        """

    @abstractmethod
    def _prepare_validation_target(self, y_val) -> np.ndarray:
        """Validate ``y_val`` into the form ``_validation_metrics`` scores."""

    @abstractmethod
    def _validation_metrics(self, raw, y_val, sample_weight) -> tuple[float, float]:
        """``(loss, score)`` on validation data.

        ``raw`` is the output layer before its activation: a regressor's
        predictions, a classifier's logits.
        """

    def _target_sample_weight(self, y, sample_weight):
        """The training rows' weights: ``sample_weight`` (validated, or None)
        times any weight the target implies (a classifier's ``class_weight``)."""
        return sample_weight

    @property
    @abstractmethod
    def _out_activation(self) -> str:
        """Activation of the output layer (MLPRegressor's ``out_activation_``).

        Read after ``_prepare_target``'s attributes are set: it may depend on
        the target (a classifier's sigmoid or softmax).
        """

    # ------------------------------------------------------------ architecture
    def _hidden_layers(self) -> tuple[tuple[int, ...], tuple[float, ...]]:
        """Validated hidden layer sizes and one dropout rate per hidden layer."""
        # object arrays keep each entry's own type; 0-d arrays become 1 entry
        sizes = np.asarray(self.hidden_layer_sizes, dtype=object)
        if sizes.ndim > 1:
            raise ValueError(
                "hidden_layer_sizes must be an int or a flat sequence of ints (one "
                f"per hidden layer), got a {sizes.ndim}-D array: "
                f"{self.hidden_layer_sizes!r}."
            )
        sizes = sizes.reshape(-1).tolist()
        if not sizes:
            raise ValueError(
                "hidden_layer_sizes must name at least one hidden layer, got ()."
            )
        if any(
            not isinstance(s, Integral) or isinstance(s, bool) or s < 1 for s in sizes
        ):
            raise ValueError(
                f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}."
            )
        rates = np.asarray(self.dropout_rate, dtype=object).reshape(-1).tolist()
        if np.ndim(self.dropout_rate) == 0:
            rates = rates * len(sizes)
        elif len(rates) != len(sizes):
            raise ValueError(
                f"dropout_rate has {len(rates)} rates for {len(sizes)} hidden "
                f"layers (hidden_layer_sizes={tuple(sizes)!r}); give one rate per "
                "hidden layer, or a single float for all."
            )
        if any(
            not isinstance(r, Real) or isinstance(r, bool) or not 0 <= r < 1
            for r in rates
        ):
            raise ValueError(
                f"dropout_rate must hold floats in [0, 1), got {self.dropout_rate!r}."
            )
        rates = tuple(float(r) for r in rates)
        members = self.n_members
        if (
            not isinstance(members, Integral)
            or isinstance(members, bool)
            or members < 1
        ):
            raise ValueError(f"n_members must be an int >= 1, got {members!r}.")
        if any(s % members for s in sizes):
            multiples = tuple(-(-s // members) * members for s in sizes)
            raise ValueError(
                f"n_members={members} splits every hidden layer's units "
                "evenly between the members, but hidden_layer_sizes="
                f"{tuple(sizes)!r} has a layer whose size is not a multiple of "
                f"{members}. Use sizes that are multiples of n_members "
                f"(e.g. {multiples!r})."
            )
        return tuple(int(s) for s in sizes), rates

    def _layer_plan(self, n_outputs: int) -> list[LayerSpec]:
        sizes, rates = self._hidden_layers()
        return layer_plan(
            sizes,
            self.activation,
            rates,
            self.batchnorm,
            n_outputs,
            self._out_activation,
            self.n_members,
        )

    def describe_layers(self, n_features="n_features", n_outputs=1) -> str:
        """The layers this estimator builds, one per line, input first.

        Works before ``fit`` (with placeholder sizes) and after it (the
        fitted network, whatever parameters were set since), without
        importing Keras.

        Parameters
        ----------
        n_features : int or str, default='n_features'
            Input width to show; ignored once fitted.
        n_outputs : int, default=1
            Output width to show; ignored once fitted.

        Returns
        -------
        description : str
        """
        if hasattr(self, "_network_spec"):  # fitted: whatever set_params did since
            network = self._network_spec
            return describe_plan(list(network.layers), network.n_features)
        return describe_plan(self._layer_plan(n_outputs), n_features)

    # --------------------------------------------------------------- fitting
    def _fit(
        self,
        X,
        y,
        *,
        sample_weight=None,
        groups=None,
        X_val=None,
        y_val=None,
        sample_weight_val=None,
        incremental=False,
        classes=None,
    ):
        """Validate, prepare the target, split, build the specs, train, publish.

        Every step before the last works on ``fit``, a shallow copy of the
        estimator (validation writes ``n_features_in_``, the target's
        attributes...). The estimator itself is written once, after training
        succeeded, in one update of its ``__dict__``; a fit that fails
        anywhere (bad input, divergence, an interrupt) leaves it as it was.
        """
        if incremental:
            # scikit-learn's fit context validates the parameters on the first
            # partial_fit call only; a later set_params must not slip through.
            self._validate_params()
        first_pass = "_weights" not in self.__dict__ or not (
            self.warm_start or incremental
        )
        fit = object.__new__(type(self))
        fit.__dict__.update(self.__dict__)
        X, y_train, sample_weight = fit._training_data(
            X, y, sample_weight, first_pass, incremental, classes
        )
        previous = None if first_pass else self._training_state
        rng = _generator(self.random_state, len(previous.loss_curve) if previous else 0)
        early_stopping = fit._early_stopping(X.shape[0]) and not incremental
        X, y_train, sample_weight, validation = fit._split_validation(
            X, y_train, sample_weight, groups, X_val, y_val, sample_weight_val,
            early_stopping, rng,
        )  # fmt: skip
        batch_size = fit._effective_batch_size(X.shape[0])
        network, optimizer = fit._specs(X.shape[1], y_train.shape[1], batch_size)
        if first_pass:
            weights = initial_weights(network, rng)
            state = None
        else:
            if network != self._network_spec:
                raise ValueError(
                    "The network changed since the last fit (hidden layers, "
                    "activation, dropout, batchnorm, n_members or number of features); "
                    "warm_start and partial_fit continue the same network. Refit "
                    "from scratch with warm_start=False."
                )
            weights, state = self._weights, previous
        if first_pass or optimizer != self._optimizer_spec:
            optimizer_state = initial_optimizer_state(optimizer, network)
        else:
            optimizer_state = self._optimizer_state
        callbacks = fit._copied_callbacks()
        rules = fit._training_rules(batch_size, early_stopping, incremental)

        _train = _keras_modules()
        result = _train.train(
            network,
            optimizer,
            weights,
            optimizer_state,
            _train.TrainingData(
                as_float32(X),
                y_train,
                sample_weight,
                validation and fit._make_validator(network, validation, batch_size),
            ),
            rules,
            state or _train.TrainingState(),
            rng,
            callbacks,
        )
        if result.diverged_at is not None:
            raise ValueError(self._divergence_message(result))
        coefs, intercepts, activations, rates = fold(network, result.weights)
        if not all(np.isfinite(w).all() for w in (*coefs, *intercepts)):
            raise ValueError(
                "Training produced non-finite weights; " + self._divergence_advice()
            )

        fitted = {
            **fit.__dict__,
            **_training_attributes(
                result, validation is not None, early_stopping, incremental
            ),
            "_network_spec": network,
            "_optimizer_spec": optimizer,
            "_weights": result.weights,
            "_optimizer_state": result.optimizer_state,
            "_l2": rules.l2,
            "_keras_model": None,
            "callbacks_": callbacks,
            "coefs_": coefs,
            "intercepts_": intercepts,
            "n_layers_": len(coefs) + 1,
            "n_outputs_": y_train.shape[1],
            "_activations": activations,
            "_dropout_rates": rates,
        }
        self.__dict__.update(fitted)
        if not (incremental or result.converged) and result.epochs_run == self.max_iter:
            warnings.warn(
                f"Maximum iterations ({self.max_iter}) reached and the optimization "
                "hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,  # _fit, fit, _fit_context, the caller
            )
        return self

    def _training_data(self, X, y, sample_weight, first_pass, incremental, classes):
        """Validated X, the float32 2-D training target and the row weights.

        Runs on the fit's scratch copy: sets ``n_features_in_`` (and feature
        names) and the target's fitted attributes on it.
        """
        self._hidden_layers()  # cross-parameter rules fail before any data work
        _reject_datetime(X, "X")
        _reject_missing_labels(y, "y")
        X, y = validate_data(
            self,
            X,
            y,
            reset=first_pass,
            accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32),
            multi_output=True,
            y_numeric=self._y_numeric,
        )
        if self._y_numeric and y.dtype.kind not in "biuf":
            y = _numeric_target(y, type(self).__name__)
        y_train, target_attrs = self._prepare_target(
            y, first_pass, incremental, classes
        )
        self.__dict__.update(target_attrs)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        sample_weight = self._target_sample_weight(y, sample_weight)
        return X, y_train, None if sample_weight is None else _rescaled(sample_weight)

    def _specs(self, n_features: int, n_outputs: int, batch_size: int):
        """The ``NetworkSpec`` and ``OptimizerSpec`` of the current parameters."""
        network = NetworkSpec(
            n_features=n_features,
            layers=tuple(self._layer_plan(n_outputs)),
            batchnorm_momentum=float(self.batchnorm_momentum),
        )
        n_weights = sum(int(np.prod(v.shape)) for v in network.variables())
        if n_weights > _MAX_WEIGHTS:
            raise ValueError(
                f"hidden_layer_sizes={self.hidden_layer_sizes!r} with "
                f"{n_features} features makes a network of {n_weights:,} "
                f"weights ({4 * n_weights / 2**30:,.0f} GiB in float32); at most "
                f"{_MAX_WEIGHTS:,} are supported. Use smaller hidden layers."
            )
        if self.batchnorm is not None and batch_size < 2:
            rows = (
                "1 sample"
                if batch_size == 1 and self.batch_size != 1
                else (f"batch_size={self.batch_size}")
            )
            raise ValueError(
                f"batchnorm={self.batchnorm!r} needs batches of at least 2 rows, "
                f"but this fit has batches of 1 row ({rows}): BatchNormalization "
                "of a single row normalizes every value to 0. Use batch_size >= 2 "
                "(and at least 2 training rows), or batchnorm=None."
            )
        return network, optimizer_spec(self.get_params(deep=False), self.loss)

    def _training_rules(self, batch_size: int, early_stopping: bool, incremental: bool):
        from ._train import TrainingRules

        return TrainingRules(
            batch_size=batch_size,
            max_epochs=self.max_iter,
            shuffle=self.shuffle,
            l2=self._penalty_factor(batch_size),
            tol=float(self.tol),
            averaging=0.0 if incremental else float(self.weight_averaging),
            n_iter_no_change=self.n_iter_no_change,
            use_validation=early_stopping,
            incremental=incremental,
            learning_rate=self.learning_rate if self.solver == "sgd" else "constant",
            learning_rate_init=float(self.learning_rate_init),
            power_t=float(self.power_t),
            verbose=self.verbose,
        )

    def _penalty_factor(self, batch_size: int) -> float:
        """The factor of the sum of squared kernels in the objective.

        MLPRegressor's penalty, ``0.5 * alpha * ||W||^2 / batch_size``, for each
        member (the objective is the members' mean); AdamW applies ``alpha``
        as decoupled weight decay instead.
        """
        if self.solver == "adamw":
            return 0.0
        return 0.5 * float(self.alpha) / batch_size / self.n_members

    def _copied_callbacks(self) -> list:
        copies = []
        for i, callback in enumerate(self.callbacks or ()):
            try:
                copies.append(copy.deepcopy(callback))
            except Exception as exc:
                raise TypeError(
                    f"callbacks[{i}] ({type(callback).__name__}) cannot be "
                    f"deep-copied: {exc}. fit trains with deep copies of the "
                    "callbacks, so that the parameter is never changed by "
                    "training and every fit (each clone in a grid search) starts "
                    "from the same callbacks. Keep objects that cannot be copied "
                    "(locks, open files, clients) out of the callback, or give it "
                    "a __deepcopy__ method."
                ) from exc
        return copies

    @property
    def model_(self):
        """The fitted network as a compiled Keras model, built when first read.

        A copy: changing it changes neither predictions nor later training.
        """
        if "_weights" not in self.__dict__:
            raise AttributeError(
                f"This {type(self).__name__} instance is not fitted yet: it has "
                "no model_."
            )
        model = self.__dict__.get("_keras_model")
        if model is None:
            _keras_modules()
            from ._model import keras_model

            state = self._training_state
            model = keras_model(
                self._network_spec,
                self._optimizer_spec,
                self._weights,
                self._optimizer_state,
                state.learning_rate,
                l2=self._l2,
            )
            self.__dict__["_keras_model"] = model
        return model

    def _split_validation(
        self,
        X,
        y,
        sample_weight,
        groups,
        X_val,
        y_val,
        sample_weight_val,
        early_stopping,
        rng,
    ):
        """Training rows and ``(X_val, y_val, sample_weight_val)`` or None.

        Explicit ``X_val``/``y_val`` are scored after every epoch; they drive
        the stopping rule only when ``early_stopping=True``. Otherwise, with
        ``early_stopping=True``, ``validation_fraction`` of the rows is held out
        by scikit-learn's splitters: grouped when ``groups`` is given (no group
        on both sides), stratified for single-output classification.
        """
        if X_val is not None or y_val is not None:
            if X_val is None or y_val is None:
                raise ValueError("X_val and y_val must be passed together.")
            # scikit-learn's messages name X and sample_weight: say which
            _reject_datetime(X_val, "X_val")
            _reject_missing_labels(y_val, "y_val")
            try:
                X_val = validate_data(
                    self,
                    X_val,
                    reset=False,
                    accept_sparse=("csr", "csc"),
                    dtype=(np.float64, np.float32),
                )
            except ValueError as exc:
                raise ValueError(f"Invalid X_val: {exc}") from exc
            y_val = self._prepare_validation_target(y_val)
            if y_val.shape[1] != y.shape[1]:
                raise ValueError(
                    f"y_val has {y_val.shape[1]} outputs but y has {y.shape[1]}; "
                    "they must have the same number of outputs."
                )
            try:
                check_consistent_length(X_val, y_val)
            except ValueError as exc:
                raise ValueError(f"X_val and y_val: {exc}") from exc
            if sample_weight_val is not None:
                try:
                    sample_weight_val = _check_sample_weight(
                        sample_weight_val, X_val, ensure_non_negative=True
                    )
                except ValueError as exc:
                    raise ValueError(f"Invalid sample_weight_val: {exc}") from exc
            return X, y, sample_weight, (X_val, y_val, sample_weight_val)
        if sample_weight_val is not None:
            raise ValueError("sample_weight_val is given but X_val and y_val are not.")
        if not early_stopping:
            return X, y, sample_weight, None

        seed = int(rng.integers(2**31 - 1))
        n_samples = X.shape[0]
        labels = y
        if groups is not None:
            groups = column_or_1d(groups)
            check_consistent_length(X, groups)
            splitter = GroupShuffleSplit(
                n_splits=1, test_size=self.validation_fraction, random_state=seed
            )
        elif (labels := self._stratification(y)) is not None:
            splitter = StratifiedShuffleSplit(
                n_splits=1, test_size=self.validation_fraction, random_state=seed
            )
        else:
            splitter = ShuffleSplit(
                n_splits=1, test_size=self.validation_fraction, random_state=seed
            )
        try:
            train, val = next(splitter.split(np.zeros((n_samples, 1)), labels, groups))
        except ValueError as exc:
            raise ValueError(
                f"early_stopping=True could not hold out validation_fraction="
                f"{self.validation_fraction} of {n_samples} rows: {exc}"
            ) from exc
        if len(train) == 0 or len(val) == 0:
            raise ValueError(
                f"early_stopping=True needs rows on both sides of the validation "
                f"split; validation_fraction={self.validation_fraction} of "
                f"{n_samples} rows leaves {len(train)} for training and "
                f"{len(val)} for validation."
            )
        if len(val) < 2:
            raise ValueError(
                "The validation set is too small: early_stopping=True holds out "
                f"{len(val)} of {n_samples} rows (validation_fraction="
                f"{self.validation_fraction}), and a validation score needs at "
                "least 2. Increase 'validation_fraction' or the size of your "
                "dataset."
            )
        sw_train = None if sample_weight is None else sample_weight[train]
        sw_val = None if sample_weight is None else sample_weight[val]
        return X[train], y[train], sw_train, (X[val], y[val], sw_val)

    def _make_validator(self, network, validation, batch_size: int):
        """``weights -> (validation loss, validation score)`` for the monitor.

        The loss is the training objective's (data loss plus the same L2
        penalty), on the folded network's raw outputs.
        """
        X_val, y_val, sw_val = validation
        l2 = self._penalty_factor(batch_size)

        def validate(weights):
            coefs, intercepts, activations, _ = fold(network, weights)
            raw = forward(X_val, coefs, intercepts, [*activations[:-1], "identity"])
            loss, score = self._validation_metrics(raw, y_val, sw_val)
            kernels = (w for v, w in zip(network.variables(), weights, strict=True)
                       if v.name == "kernel")  # fmt: skip
            penalty = sum(
                float(np.sum(np.square(k, dtype=np.float64))) for k in kernels
            )
            return loss + l2 * penalty, score

        return validate

    def _stratification(self, y):
        """The labels to stratify the early-stopping split by, or None."""
        return None

    def _early_stopping(self, n_samples: int) -> bool:
        """``early_stopping`` resolved: 'auto' is on from 300 training rows."""
        if self.early_stopping == "auto":
            return n_samples >= AUTO_EARLY_STOPPING_ROWS
        return bool(self.early_stopping)

    def _effective_batch_size(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(200, n_samples)
        return min(self.batch_size, n_samples)

    def _divergence_advice(self) -> str:
        return (
            "what usually fixes it: scale the inputs (e.g. StandardScaler in a "
            "Pipeline), put batch normalization first (batchnorm='input' or "
            "'before_dense'), or lower learning_rate_init "
            f"(now {self.learning_rate_init:g})."
        )

    def _divergence_message(self, result) -> str:
        from ._train import DIVERGENCE_FACTOR

        loss = result.state.loss_curve[-1]
        what = (
            f"became {loss}"
            if not np.isfinite(loss)
            else f"reached {loss:.4g}, over {DIVERGENCE_FACTOR:g} times the loss of "
            "its first batch"
        )
        return (
            f"Training diverged at epoch {result.diverged_at}: the training loss "
            f"{what}. The estimator was left as it was before this fit; "
            + self._divergence_advice()
        )

    # --------------------------------------------------------------- pickling
    # A fitted estimator's state is NumPy arrays and plain Python data (the
    # specs as builtins), so that pickle, joblib and skops all save it, and
    # skops trusts no type but the estimator's own class.
    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: Python's is __dict__ itself
        state["_sknormnet_version"] = _package_version()
        for name in _SPEC_ATTRIBUTES:
            if name in state:
                state[name] = state[name].to_builtins()
        if state.get("_keras_model") is not None:
            state["_keras_model"] = None  # model_ is rebuilt from the arrays
        if state.get("callbacks_"):
            # Keras callbacks unpickle through Keras: unpickled first, this
            # imports it the way fit does (global RNG states put back).
            state = {"_keras_import": _KerasImport(), **state}
        return state

    def __setstate__(self, state):
        state = dict(state)
        state.pop("_keras_import", None)
        version = state.pop("_sknormnet_version", None)
        if "_network_spec" in state:
            from ._train import TrainingState

            kinds = {
                "_network_spec": NetworkSpec,
                "_optimizer_spec": OptimizerSpec,
                "_training_state": TrainingState,
            }
            for name, kind in kinds.items():
                state[name] = kind.from_builtins(state[name])
            for name in ("_weights", "_optimizer_state"):
                state[name] = tuple(state[name])
        super().__setstate__(state)
        if version != _package_version():
            warnings.warn(
                f"Unpickling a {type(self).__name__} saved by sknormnet "
                f"{version or '(unknown version)'} with sknormnet "
                f"{_package_version()}: this might fail or give wrong results. "
                "Refit it with the installed version, or load it with the one "
                "that saved it.",
                UserWarning,
                stacklevel=2,
            )

    # ------------------------------------------------------------- predicting
    def _validated_input(self, X):
        """X checked against the fitted estimator (width, feature names), for predicting.

        A float NumPy array of the fitted width, for an estimator fitted
        without feature names, passes every check scikit-learn's validation
        makes on it (2-D, rows, width, finite, float dtype) with a few direct
        tests; anything else, and every input that fails one of them, goes
        through ``validate_data``, which raises the usual errors.
        """
        if (
            type(X) is np.ndarray
            and X.dtype in _FLOAT_DTYPES
            and X.ndim == 2
            and X.shape[0] > 0
            and X.shape[1] == self.__dict__.get("n_features_in_")
            and "feature_names_in_" not in self.__dict__
            and np.isfinite(X).all()
        ):
            return X
        check_is_fitted(self)
        _reject_datetime(X, "X")
        return validate_data(
            self,
            X,
            accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32),
            reset=False,
        )

    def _forward(self, X, *, logits: bool = False) -> np.ndarray:
        """The network's output for X; with ``logits``, before the output activation."""
        X = self._validated_input(X)
        activations = self._activations
        if logits:
            activations = [*activations[:-1], "identity"]
        return forward(X, self.coefs_, self.intercepts_, activations)


def _keras_modules():
    """The training module, imported on first use (not at package import).

    Importing TensorFlow or JAX draws from NumPy's global RNG (TensorFlow from
    Python's ``random`` too); both states are put back, so that a first fit
    leaves global state as it found it. In a parallel worker the backend gets
    the worker's thread limit first (``_threads``).
    """
    if "sknormnet._engines" not in sys.modules:
        limit_backend_threads()
        numpy_state = np.random.get_state()  # noqa: NPY002 - saved, not used
        python_state = random.getstate()
        try:
            from . import _engines, _model, _train  # noqa: F401

            _engines.backend_engine()  # its imports draw from the RNGs too
        finally:
            np.random.set_state(numpy_state)  # noqa: NPY002
            random.setstate(python_state)
    from . import _train

    return _train


class _KerasImport:
    """Unpickles to None, importing Keras and its backend as ``fit`` does."""

    def __reduce__(self):
        return _import_keras, ()


def _import_keras() -> None:
    _keras_modules()


def _training_attributes(
    result, validated: bool, early_stopping: bool, incremental: bool
) -> dict:
    """The fitted attributes that describe training (MLPRegressor's vocabulary)."""
    state = result.state
    history = {"loss": list(state.loss_curve)}
    if validated:
        history["val_loss"] = list(state.validation_losses)
        history["val_score"] = list(state.validation_scores)
    return {
        "_training_state": state,
        "loss_curve_": list(state.loss_curve),
        "loss_": state.loss_curve[-1],
        # As MLPRegressor: n_iter_ counts this call's epochs, the curves and t_
        # the whole training since the network was built.
        "n_iter_": result.epochs_run,
        "t_": state.t,
        "history_": history,
        # As MLPRegressor: best_loss_ tracks the training loss unless the
        # validation score drives stopping; validation attributes exist
        # (not None) whenever validation data was scored.
        "best_loss_": None if early_stopping else state.best_loss,
        "validation_scores_": list(state.validation_scores) if validated else None,
        "best_validation_score_": (state.best_validation_score if validated else None),
        "_no_improvement_count": state.no_improvement_count,  # MLPRegressor's
    }


def _package_version() -> str:
    return sys.modules["sknormnet"].__version__


def _reject_datetime(X, name: str) -> None:
    """A clear error for date and time columns, which are not numbers to a network.

    NumPy would read them as nanoseconds since 1970.
    """
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and hasattr(dtypes, "items"):  # a DataFrame
        columns = [
            str(column)
            for column, dtype in dtypes.items()
            if getattr(dtype, "kind", "") in ("m", "M")
        ]
    elif getattr(getattr(X, "dtype", None), "kind", "") in ("m", "M"):
        columns = ["(all)"]
    else:
        return
    if columns:
        raise ValueError(
            f"{name} has date/time column(s) {columns}: a network needs numbers, "
            "and would read these as nanoseconds since 1970. Turn them into "
            "numeric features first, e.g. in a ColumnTransformer with "
            "skrub's DatetimeEncoder or a FunctionTransformer that extracts the "
            "year, month or day of week."
        )


def _reject_missing_labels(y, name: str) -> None:
    """scikit-learn's "contains NaN" error for None and pandas' NA among labels.

    (scikit-learn's own check compares values with themselves, which pandas'
    NA refuses to turn into a bool.)
    """
    dtype = getattr(y, "dtype", None)
    # object arrays, pandas' extension dtypes (nullable strings, Int64...), lists
    if isinstance(y, list | tuple) or (
        dtype is not None and (not isinstance(dtype, np.dtype) or dtype.kind == "O")
    ):
        values = np.asarray(y, dtype=object).ravel()
        if any(_is_missing(value) for value in values):
            raise ValueError(f"Input {name} contains NaN.")


def _is_missing(value) -> bool:
    if value is None or type(value).__name__ == "NAType":
        return True
    return isinstance(value, float) and value != value


def _rescaled(sample_weight: np.ndarray) -> np.ndarray:
    """Row weights as float32, rescaled to mean 1.

    Only the ratios between weights matter (as in MLPRegressor, whose loss is
    a weighted average); a mean of 1 keeps the loss and the optimizer's
    moments at the data's scale, whatever the weights' units.
    """
    mean = sample_weight.mean()
    if mean > 0:
        sample_weight = sample_weight / mean
    return sample_weight.astype(np.float32)


def as_float32(X, name: str = "X"):
    """The training copy of X (or y) in float32; values whose squares overflow it
    are an error."""
    values = X.data if sparse.issparse(X) else X
    # y enters the loss through residuals of up to twice its magnitude, squared
    limit = _TRAINABLE_MAX / 4 if name == "y" else _TRAINABLE_MAX
    # the two extremes, without a temporary array the size of X
    largest = float(max(values.max(initial=0.0), -values.min(initial=0.0)))
    if largest > limit:
        raise ValueError(
            f"Input {name} contains values too large for float32 training (largest "
            f"magnitude {largest:.3g}; the network trains in float32, where the "
            f"squares in its loss and optimizer overflow above {limit:.3g}). "
            f"Scale {name} first."
        )
    if sparse.issparse(X):  # read only: a float32 CSR matrix is not copied
        return X.astype(np.float32, copy=False).tocsr(copy=False)
    return np.ascontiguousarray(X, dtype=np.float32)


def _numeric_target(y, estimator: str) -> np.ndarray:
    """A regression target of strings or objects as float64, or an error naming y.

    Strings that spell numbers convert, as they do in X.
    """
    try:
        return check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
    except (TypeError, ValueError) as exc:
        if "Input y contains" in str(exc):
            raise
        raise ValueError(
            f"{estimator} needs a numeric target y (dtype {y.dtype}): {exc}"
        ) from exc


def _generator(random_state, offset: int) -> np.random.Generator:
    """The fit's own random generator.

    ``offset`` (the epochs already run) gives warm-started fits and
    ``partial_fit`` calls their own stream. With ``random_state=None`` the
    generator is seeded from fresh OS entropy rather than drawn from NumPy's
    global RNG, so fitting never changes global state.
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, Integral):
        seed = int(random_state)
    else:
        seed = int(check_random_state(random_state).randint(2**31 - 1))
    return np.random.default_rng([seed, offset])
