"""TrainingCurveDisplay: the per-epoch loss (or validation score) of a fit."""

from __future__ import annotations

import numpy as np
from sklearn.base import is_classifier, is_regressor
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

_METRICS = ("loss", "val_score")

_LOSS_LABELS = {
    "squared_error": "Half mean squared error",
    "absolute_error": "Mean absolute error",
    "huber": "Huber loss",
    "log_loss": "Log loss",
}


def _require_matplotlib(caller: str) -> None:
    """Raise an ImportError naming what to install when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, which is not installed. Install it "
            'with `pip install "sknormnet[plot]"` (or `pip install matplotlib`).'
        ) from exc


def _as_curve(values, key: str) -> np.ndarray:
    curve = np.asarray(values, dtype=np.float64)
    if curve.ndim != 1 or curve.size == 0:
        raise ValueError(
            f"history[{key!r}] must be a non-empty list of per-epoch numbers; "
            f"got shape {curve.shape}."
        )
    return curve


def _loss_label(estimator) -> str:
    loss = getattr(estimator, "loss", None)
    label = _LOSS_LABELS.get(loss, str(loss).replace("_", " ").capitalize())
    penalized = getattr(estimator, "alpha", 0) > 0 and (
        getattr(estimator, "solver", None) != "adamw"
    )
    return f"{label} + L2 penalty" if penalized else label


def _score_label(estimator) -> str | None:
    if is_regressor(estimator):
        return "Validation R²"
    if is_classifier(estimator):
        return "Validation accuracy"
    return None


class TrainingCurveDisplay:
    """Training curve visualization: a metric of a fit against the epoch.

    Draws the training loss and, when the fit scored validation data, the
    validation loss of every epoch (``metric='loss'``), or the validation
    score of every epoch (``metric='val_score'``). The training line is solid
    and the validation line dashed, in the same colour, so that several fits
    drawn on one axes stay paired.

    Create it with :meth:`from_estimator` (a fitted sknormnet estimator) or
    :meth:`from_history` (a dict of per-epoch lists, such as the ``history``
    attribute of the object Keras' ``Model.fit`` returns). All parameters are
    stored as attributes.

    Parameters
    ----------
    train_curve : array-like of shape (n_epochs,) or None, default=None
        The training metric of each epoch; None draws no training line.

    val_curve : array-like of shape (n_val_epochs,) or None, default=None
        The validation metric of each epoch; None draws no validation line.
        When it is shorter than ``train_curve`` (validation data was passed
        only to the later of several warm-started fits), it is aligned with
        the last epochs.

    metric : {'loss', 'val_score'}, default='loss'
        What the curves hold; sets the default title.

    y_label : str or None, default=None
        Label of the y axis; None uses ``'Loss'`` or ``'Validation score'``.

    name : str or None, default=None
        Name of the fit, used in the legend labels.

    Attributes
    ----------
    lines_ : list of matplotlib.lines.Line2D
        The lines drawn by the last call to :meth:`plot`: the training line
        first, then the validation line, when each exists.

    ax_ : matplotlib.axes.Axes
        The axes drawn on.

    figure_ : matplotlib.figure.Figure
        The figure holding ``ax_``.

    See Also
    --------
    sklearn.model_selection.LearningCurveDisplay : Scores against the number
        of training rows, from cross-validation.

    Notes
    -----
    The curves are the estimator's ``history_``: the training loss includes
    the L2 penalty when ``alpha > 0`` (and so does the validation loss, so
    that the two are comparable). With dropout, the training loss is measured
    with dropout active while the validation loss is measured without it,
    which is why a network with dropout can show a validation loss below its
    training loss.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import make_regression
    >>> from sknormnet import NormNetRegressor
    >>> from sknormnet.plotting import TrainingCurveDisplay
    >>> X, y = make_regression(n_samples=200, n_features=4, random_state=0)
    >>> reg = NormNetRegressor(hidden_layer_sizes=(16,), max_iter=5,
    ...                        early_stopping=True, random_state=0)
    >>> reg = reg.fit(X, y)
    >>> display = TrainingCurveDisplay.from_estimator(reg, name="16 units")
    >>> [line.get_label() for line in display.lines_]
    ['16 units, training', '16 units, validation']
    >>> display.ax_.get_xlabel()
    'Epoch'
    >>> plt.close(display.figure_)
    """

    def __init__(
        self,
        *,
        train_curve=None,
        val_curve=None,
        metric="loss",
        y_label=None,
        name=None,
    ):
        self.train_curve = train_curve
        self.val_curve = val_curve
        self.metric = metric
        self.y_label = y_label
        self.name = name

    def plot(
        self,
        ax=None,
        *,
        name=None,
        title=None,
        train_kwargs=None,
        val_kwargs=None,
    ):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; None creates a new figure and axes. Drawing
            several displays on the same axes compares them: each adds its
            lines and the legend is rebuilt.

        name : str, default=None
            Name for the legend labels; None uses ``self.name``.

        title : str, default=None
            Title of the axes. None sets a default title only when the axes
            has none yet, so a title set earlier is kept.

        train_kwargs : dict, default=None
            Keyword arguments for :meth:`matplotlib.axes.Axes.plot` for the
            training line (e.g. ``color``, ``linewidth``).

        val_kwargs : dict, default=None
            Keyword arguments for :meth:`matplotlib.axes.Axes.plot` for the
            validation line. By default it takes the training line's colour
            and a dashed style.

        Returns
        -------
        display : TrainingCurveDisplay
            The object, with ``lines_``, ``ax_`` and ``figure_`` set.
        """
        _require_matplotlib(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        if self.metric not in _METRICS:
            raise ValueError(f"metric must be one of {_METRICS}; got {self.metric!r}.")
        if self.train_curve is None and self.val_curve is None:
            raise ValueError("There is nothing to plot: both curves are None.")
        if ax is None:
            _, ax = plt.subplots()
        name = self.name if name is None else name
        prefix = "" if name is None else f"{name}, "

        lines = []
        n_train = 0
        if self.train_curve is not None:
            train = np.asarray(self.train_curve, dtype=np.float64)
            n_train = len(train)
            kwargs = {"label": f"{prefix}training", **(train_kwargs or {})}
            lines.extend(ax.plot(np.arange(1, n_train + 1), train, **kwargs))
        if self.val_curve is not None:
            val = np.asarray(self.val_curve, dtype=np.float64)
            first = max(n_train - len(val), 0) + 1
            kwargs = {"label": f"{prefix}validation"}
            if lines:
                kwargs.update(color=lines[0].get_color(), linestyle="--")
            elif name is not None:
                kwargs["label"] = name
            kwargs.update(val_kwargs or {})
            lines.extend(ax.plot(np.arange(first, first + len(val)), val, **kwargs))

        default_label = "Loss" if self.metric == "loss" else "Validation score"
        ax.set_xlabel("Epoch")
        ax.set_ylabel(self.y_label or default_label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if title is not None:
            ax.set_title(title)
        elif not ax.get_title():
            ax.set_title(
                "Loss per epoch"
                if self.metric == "loss"
                else "Validation score per epoch"
            )
        ax.legend()

        self.lines_ = lines
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        metric="loss",
        ax=None,
        name=None,
        title=None,
        train_kwargs=None,
        val_kwargs=None,
    ):
        """Plot the training curves of a fitted estimator.

        Parameters
        ----------
        estimator : fitted NormNetRegressor, NormNetClassifier or Pipeline
            The fitted estimator; its ``history_`` is plotted. For a
            :class:`~sklearn.pipeline.Pipeline`, its last step's.

        metric : {'loss', 'val_score'}, default='loss'
            'loss': the training loss of each epoch and, when validation data
            was scored (``early_stopping=True`` or ``X_val`` passed to
            ``fit``), the validation loss. 'val_score': the validation score
            of each epoch (R² for a regressor, accuracy for a classifier);
            the estimator must have been fitted with validation data.

        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; None creates a new figure and axes. Pass the
            ``ax_`` of an earlier display to compare several estimators.

        name : str, default=None
            Name for the legend labels; None uses the estimator's class name.

        title : str, default=None
            Title of the axes; see :meth:`plot`.

        train_kwargs : dict, default=None
            Keyword arguments for the training line; see :meth:`plot`.

        val_kwargs : dict, default=None
            Keyword arguments for the validation line; see :meth:`plot`.

        Returns
        -------
        display : TrainingCurveDisplay
            The display, drawn.

        Raises
        ------
        NotFittedError
            If the estimator is not fitted.
        ValueError
            If ``metric='val_score'`` and the estimator was fitted without
            validation data.
        """
        _require_matplotlib(f"{cls.__name__}.from_estimator")
        if isinstance(estimator, Pipeline):
            estimator = estimator[-1]
        if metric not in _METRICS:
            raise ValueError(f"metric must be one of {_METRICS}; got {metric!r}.")
        check_is_fitted(estimator, "history_")
        history = estimator.history_
        name = type(estimator).__name__ if name is None else name

        if metric == "loss":
            display = cls(
                train_curve=_as_curve(history["loss"], "loss"),
                val_curve=(
                    _as_curve(history["val_loss"], "val_loss")
                    if "val_loss" in history
                    else None
                ),
                metric="loss",
                y_label=_loss_label(estimator),
                name=name,
            )
        else:
            if "val_score" not in history:
                raise ValueError(
                    f"{type(estimator).__name__} was fitted without validation "
                    "data, so its history_ has no 'val_score'. Fit it with "
                    "early_stopping=True, or pass X_val and y_val to fit, or "
                    "use metric='loss'."
                )
            display = cls(
                val_curve=_as_curve(history["val_score"], "val_score"),
                metric="val_score",
                y_label=_score_label(estimator),
                name=name,
            )
        return display.plot(
            ax=ax, title=title, train_kwargs=train_kwargs, val_kwargs=val_kwargs
        )

    @classmethod
    def from_history(
        cls,
        history,
        *,
        metric="loss",
        ax=None,
        name=None,
        y_label=None,
        title=None,
        train_kwargs=None,
        val_kwargs=None,
    ):
        """Plot training curves from a dict of per-epoch lists.

        Useful for a network trained outside sknormnet: Keras' ``Model.fit``
        returns an object whose ``history`` attribute has this form.

        Parameters
        ----------
        history : dict or object with a ``history`` dict attribute
            Per-epoch lists: ``'loss'`` and optionally ``'val_loss'`` for
            ``metric='loss'``; ``'val_score'`` for ``metric='val_score'``.

        metric : {'loss', 'val_score'}, default='loss'
            Which curves to draw, as in :meth:`from_estimator`.

        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; None creates a new figure and axes.

        name : str, default=None
            Name for the legend labels; None labels the lines 'training' and
            'validation' only.

        y_label : str, default=None
            Label of the y axis; None uses ``'Loss'`` or ``'Validation score'``.

        title : str, default=None
            Title of the axes; see :meth:`plot`.

        train_kwargs : dict, default=None
            Keyword arguments for the training line; see :meth:`plot`.

        val_kwargs : dict, default=None
            Keyword arguments for the validation line; see :meth:`plot`.

        Returns
        -------
        display : TrainingCurveDisplay
            The display, drawn.
        """
        _require_matplotlib(f"{cls.__name__}.from_history")
        if metric not in _METRICS:
            raise ValueError(f"metric must be one of {_METRICS}; got {metric!r}.")
        history = getattr(history, "history", history)
        if metric == "loss":
            if "loss" not in history:
                raise ValueError("history has no 'loss' list to plot.")
            train = _as_curve(history["loss"], "loss")
            val = history.get("val_loss")
            val = None if val is None else _as_curve(val, "val_loss")
        else:
            if "val_score" not in history:
                raise ValueError("history has no 'val_score' list to plot.")
            train, val = None, _as_curve(history["val_score"], "val_score")
        display = cls(
            train_curve=train, val_curve=val, metric=metric, y_label=y_label, name=name
        )
        return display.plot(
            ax=ax, title=title, train_kwargs=train_kwargs, val_kwargs=val_kwargs
        )
