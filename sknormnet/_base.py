"""The estimator base shared by NormNet estimators: parameters, validation, fit, predict."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._compat import Interval, StrOptions, _check_sample_weight
from ._forward import forward
from ._names import ACTIVATIONS, BATCHNORM_PLACEMENTS, SOLVERS
from ._plan import LayerSpec, describe_plan, layer_plan

_FLOAT32_MAX = float(np.finfo(np.float32).max)


class BaseNormNet(BaseEstimator, metaclass=ABCMeta):
    """Base class for NormNet estimators; use NormNetRegressor.

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
        "solver": [StrOptions(set(SOLVERS))],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
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
        verbose,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout_rate = dropout_rate
        self.batchnorm = batchnorm
        self.batchnorm_momentum = batchnorm_momentum
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
        self.verbose = verbose

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _prepare_target(self, y) -> tuple[np.ndarray, dict]:
        """Return the float32 2-D training target and the target's fitted attributes."""

    @property
    @abstractmethod
    def _out_activation(self) -> str:
        """Activation of the output layer (MLPRegressor's ``out_activation_``)."""

    # ------------------------------------------------------------ architecture
    def _hidden_layers(self) -> tuple[tuple[int, ...], tuple[float, ...]]:
        """Validated hidden layer sizes and one dropout rate per hidden layer."""
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, Integral) else tuple(sizes)
        if not sizes:
            raise ValueError(
                "hidden_layer_sizes must name at least one hidden layer, got ()."
            )
        if any(not isinstance(s, Integral) or isinstance(s, bool) or s < 1 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}."
            )
        rate = self.dropout_rate
        if isinstance(rate, Real):
            rates = (float(rate),) * len(sizes)
        else:
            rates = tuple(rate)
            if len(rates) != len(sizes):
                raise ValueError(
                    f"dropout_rate has {len(rates)} rates for {len(sizes)} hidden "
                    f"layers (hidden_layer_sizes={sizes!r}); give one rate per hidden "
                    "layer, or a single float for all."
                )
            if any(
                not isinstance(r, Real) or isinstance(r, bool) or not 0 <= r < 1
                for r in rates
            ):
                raise ValueError(
                    f"dropout_rate must hold floats in [0, 1), got {self.dropout_rate!r}."
                )
            rates = tuple(float(r) for r in rates)
        return tuple(int(s) for s in sizes), rates

    def _layer_plan(self, n_outputs: int) -> list[LayerSpec]:
        sizes, rates = self._hidden_layers()
        return layer_plan(
            sizes, self.activation, rates, self.batchnorm, n_outputs, self._out_activation
        )

    def describe_layers(self, n_features="n_features", n_outputs=1) -> str:
        """The layers this estimator builds, one per line, input first.

        Works before ``fit`` (with placeholder sizes) and after it (with the
        fitted sizes), without importing Keras.

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
        if hasattr(self, "n_features_in_"):
            n_features, n_outputs = self.n_features_in_, self.n_outputs_
        return describe_plan(self._layer_plan(n_outputs), n_features)

    # --------------------------------------------------------------- fitting
    def _fit_atomic(self, X, y, sample_weight):
        """Fit, or raise leaving the estimator exactly as it was."""
        before = self.__dict__.copy()
        try:
            return self._fit(X, y, sample_weight)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    def _fit(self, X, y, sample_weight):
        self._hidden_layers()  # cross-parameter rules fail before any data work
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32),
            multi_output=True,
            y_numeric=self._y_numeric,
        )
        y_train, target_attrs = self._prepare_target(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float32)
        X_train = _as_float32(X)
        n_samples, n_features = X.shape
        n_outputs = y_train.shape[1]
        batch_size = self._effective_batch_size(n_samples)
        plan = self._layer_plan(n_outputs)
        rng = _generator(self.random_state)
        seeds = iter(rng.integers(0, 2**31 - 1, size=len(plan)).tolist())

        from . import _model, _train  # Keras is imported here, not at package import

        model = _model.build_model(
            plan,
            n_features,
            seeds,
            # MLPRegressor's penalty: 0.5 * alpha * ||W||^2 / batch size
            l2=0.5 * self.alpha / batch_size,
            batchnorm_momentum=self.batchnorm_momentum,
        )
        _model.compile_model(model, self._make_optimizer(_model), self.loss)
        monitor = _train.run_epochs(
            model,
            X_train,
            y_train,
            sample_weight,
            batch_size=batch_size,
            n_epochs=self.max_iter,
            first_epoch=0,
            stream=_train.RowStream(n_samples, rng, self.shuffle),
            verbose=self.verbose,
        )
        if monitor.diverged_at is not None:
            raise ValueError(self._divergence_message(monitor))
        coefs, intercepts, activations, rates = _model.fold_network(plan, model)
        if not all(np.isfinite(w).all() for w in (*coefs, *intercepts)):
            raise ValueError(
                "Training produced non-finite weights; " + self._divergence_advice()
            )

        steps_per_epoch = -(-n_samples // batch_size)
        self.model_ = model
        self.history_ = {"loss": list(monitor.losses)}
        self.loss_curve_ = list(monitor.losses)
        self.loss_ = monitor.losses[-1]
        self.n_iter_ = len(monitor.losses)
        self.t_ = self.n_iter_ * steps_per_epoch * batch_size
        self.n_layers_ = len(coefs) + 1
        self.n_outputs_ = n_outputs
        self.out_activation_ = self._out_activation
        self.coefs_ = coefs
        self.intercepts_ = intercepts
        self._activations = activations
        self._dropout_rates = rates
        for name, value in target_attrs.items():
            setattr(self, name, value)
        return self

    def _effective_batch_size(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(200, n_samples)
        return min(self.batch_size, n_samples)

    def _make_optimizer(self, model_module):
        return model_module.make_optimizer(
            self.solver,
            self.learning_rate_init,
            momentum=self.momentum,
            nesterovs_momentum=self.nesterovs_momentum,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
        )

    def _divergence_advice(self) -> str:
        return (
            "what usually fixes it: scale the inputs (e.g. StandardScaler in a "
            "Pipeline), put batch normalization first (batchnorm='input' or "
            "'before_dense'), or lower learning_rate_init "
            f"(now {self.learning_rate_init:g})."
        )

    def _divergence_message(self, monitor) -> str:
        loss = monitor.losses[-1]
        return (
            f"Training diverged at epoch {monitor.diverged_at}: the training loss "
            f"became {loss}. The estimator was left unfitted; "
            + self._divergence_advice()
        )

    # ------------------------------------------------------------- predicting
    def _forward(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32),
            reset=False,
        )
        return forward(X, self.coefs_, self.intercepts_, self._activations)


def _as_float32(X):
    """The training copy of X in float32; values beyond float32's range are an error."""
    values = X.data if sparse.issparse(X) else X
    if values.size and np.abs(values).max() > _FLOAT32_MAX:
        raise ValueError(
            "Input X contains values too large for float32 (largest magnitude "
            f"{np.abs(values).max():.3g}); the network trains in float32. "
            "Scale the features first."
        )
    if sparse.issparse(X):
        return X.astype(np.float32).tocsr()
    return np.ascontiguousarray(X, dtype=np.float32)


def _generator(random_state) -> np.random.Generator:
    """The fit's own random generator.

    With ``random_state=None`` it is seeded from fresh OS entropy rather than
    drawn from NumPy's global RNG, so fitting never changes global state.
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, Integral):
        return np.random.default_rng(int(random_state))
    return np.random.default_rng(check_random_state(random_state).randint(2**31 - 1))
