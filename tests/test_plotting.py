"""TrainingCurveDisplay: data drawn, axes furniture, comparisons, errors."""

import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknormnet import NormNetClassifier, NormNetRegressor
from sknormnet.plotting import TrainingCurveDisplay


@pytest.fixture
def plt():
    """pyplot on the Agg backend; figures closed after each test."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


@pytest.fixture(scope="module")
def fitted_with_validation(easy_regression):
    """A real, tiny fit that scored validation data every epoch."""
    X, y = easy_regression
    reg = NormNetRegressor(
        hidden_layer_sizes=(8,),
        max_iter=5,
        n_iter_no_change=5,
        alpha=0.0,
        loss="absolute_error",
        random_state=0,
    )
    return reg.fit(X[:300], y[:300], X_val=X[300:], y_val=y[300:])


class FittedLike(BaseEstimator):
    """Stands in for a fitted estimator where the display only reads attributes."""

    def __init__(self, history=None, loss="squared_error", alpha=0.0):
        self.history = history
        self.loss = loss
        self.alpha = alpha
        self.history_ = history

    def fit(self, X, y):  # pragma: no cover - never called
        return self


def test_from_estimator_draws_the_training_and_validation_history(
    plt, fitted_with_validation
):
    reg = fitted_with_validation
    display = TrainingCurveDisplay.from_estimator(reg, name="tiny")

    train, val = display.lines_
    assert_allclose(train.get_ydata(), reg.history_["loss"])
    assert_allclose(val.get_ydata(), reg.history_["val_loss"])
    assert_array_equal(train.get_xdata(), np.arange(1, reg.n_iter_ + 1))
    assert_array_equal(val.get_xdata(), np.arange(1, reg.n_iter_ + 1))
    assert train.get_label() == "tiny, training"
    assert val.get_label() == "tiny, validation"
    # paired by colour, told apart by style
    assert val.get_color() == train.get_color()
    assert val.get_linestyle() == "--"


def test_from_estimator_without_validation_draws_the_training_line_only(plt):
    history = {"loss": [3.0, 2.0, 1.5]}
    display = TrainingCurveDisplay.from_estimator(FittedLike(history))

    (line,) = display.lines_
    assert_allclose(line.get_ydata(), history["loss"])
    assert line.get_label() == "FittedLike, training"


def test_from_estimator_axes_labels_legend_and_title(plt, fitted_with_validation):
    display = TrainingCurveDisplay.from_estimator(fitted_with_validation)
    ax = display.ax_

    assert ax.get_xlabel() == "Epoch"
    assert ax.get_ylabel() == "Mean absolute error"  # alpha=0: no penalty term
    assert ax.get_title() == "Loss per epoch"
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["NormNetRegressor, training", "NormNetRegressor, validation"]


def test_from_estimator_y_label_names_the_penalty_when_alpha_is_positive(plt):
    fitted = FittedLike({"loss": [1.0, 0.5]}, loss="huber", alpha=1e-3)
    display = TrainingCurveDisplay.from_estimator(fitted)
    assert display.ax_.get_ylabel() == "Huber loss + L2 penalty"


def test_from_estimator_several_estimators_on_one_axes(plt):
    first = FittedLike({"loss": [4.0, 3.0, 2.0], "val_loss": [4.5, 3.5, 3.0]})
    second = FittedLike({"loss": [5.0, 2.5], "val_loss": [5.5, 3.0]})

    one = TrainingCurveDisplay.from_estimator(first, name="no dropout")
    two = TrainingCurveDisplay.from_estimator(second, name="dropout", ax=one.ax_)

    assert two.ax_ is one.ax_
    assert two.figure_ is one.figure_
    assert len(one.ax_.get_lines()) == 4
    assert_allclose(two.lines_[0].get_ydata(), [5.0, 2.5])
    legend = [text.get_text() for text in one.ax_.get_legend().get_texts()]
    assert legend == [
        "no dropout, training",
        "no dropout, validation",
        "dropout, training",
        "dropout, validation",
    ]
    # each estimator gets its own colour
    assert one.lines_[0].get_color() != two.lines_[0].get_color()


def test_from_estimator_honours_the_given_axes(plt):
    fig, (left, right) = plt.subplots(1, 2)
    fitted = FittedLike({"loss": [2.0, 1.0]})

    display = TrainingCurveDisplay.from_estimator(fitted, ax=right)

    assert display.ax_ is right
    assert display.figure_ is fig
    assert len(right.get_lines()) == 1
    assert len(left.get_lines()) == 0


def test_plot_draws_again_on_new_axes_with_a_new_name(plt):
    fitted = FittedLike({"loss": [2.0, 1.0, 0.5], "val_loss": [2.5, 1.5, 1.2]})
    display = TrainingCurveDisplay.from_estimator(fitted, name="first")
    first_ax, first_lines = display.ax_, display.lines_

    _, ax = plt.subplots()
    assert display.plot(ax=ax, name="again") is display

    assert display.ax_ is ax
    assert display.lines_ is not first_lines
    assert [line.get_label() for line in display.lines_] == [
        "again, training",
        "again, validation",
    ]
    assert_allclose(display.lines_[1].get_ydata(), [2.5, 1.5, 1.2])
    assert len(first_ax.get_lines()) == 2  # the first axes is untouched


def test_plot_title_explicit_or_kept(plt):
    fitted = FittedLike({"loss": [2.0, 1.0]})
    display = TrainingCurveDisplay.from_estimator(fitted, title="Mine")
    assert display.ax_.get_title() == "Mine"

    # a later display on the same axes keeps the title it finds
    TrainingCurveDisplay.from_estimator(fitted, ax=display.ax_, name="other")
    assert display.ax_.get_title() == "Mine"


def test_plot_line_keyword_arguments_override_the_defaults(plt):
    fitted = FittedLike({"loss": [2.0, 1.0], "val_loss": [2.2, 1.4]})
    display = TrainingCurveDisplay.from_estimator(
        fitted,
        train_kwargs={"color": "black", "linewidth": 3},
        val_kwargs={"color": "red", "linestyle": ":"},
    )
    train, val = display.lines_
    assert train.get_color() == "black"
    assert train.get_linewidth() == 3
    assert val.get_color() == "red"
    assert val.get_linestyle() == ":"


def test_from_estimator_val_score(plt, fitted_with_validation):
    reg = fitted_with_validation
    display = TrainingCurveDisplay.from_estimator(reg, metric="val_score")

    (line,) = display.lines_
    assert_allclose(line.get_ydata(), reg.validation_scores_)
    assert line.get_label() == "NormNetRegressor"
    assert display.ax_.get_ylabel() == "Validation R²"
    assert display.ax_.get_title() == "Validation score per epoch"


def test_from_estimator_val_score_of_a_classifier_is_accuracy(plt, easy_regression):
    X, y = easy_regression
    labels = (y > 0).astype(int)
    clf = NormNetClassifier(
        hidden_layer_sizes=(8,), max_iter=3, early_stopping=True, random_state=0
    ).fit(X, labels)

    display = TrainingCurveDisplay.from_estimator(clf, metric="val_score")

    assert_allclose(display.lines_[0].get_ydata(), clf.validation_scores_)
    assert display.ax_.get_ylabel() == "Validation accuracy"


def test_from_estimator_val_score_without_validation_raises(plt):
    fitted = FittedLike({"loss": [2.0, 1.0]})
    with pytest.raises(ValueError, match="fitted without validation data"):
        TrainingCurveDisplay.from_estimator(fitted, metric="val_score")


def test_from_estimator_unknown_metric_raises(plt):
    fitted = FittedLike({"loss": [2.0, 1.0]})
    with pytest.raises(ValueError, match="metric must be one of"):
        TrainingCurveDisplay.from_estimator(fitted, metric="accuracy")


def test_from_estimator_unfitted_raises_not_fitted_error(plt):
    with pytest.raises(NotFittedError):
        TrainingCurveDisplay.from_estimator(NormNetRegressor())


def test_from_estimator_reads_the_last_step_of_a_pipeline(plt, easy_regression):
    X, y = easy_regression
    pipe = make_pipeline(
        StandardScaler(),
        NormNetRegressor(
            hidden_layer_sizes=(8,), max_iter=3, early_stopping=False, random_state=0
        ),
    ).fit(X, y)

    display = TrainingCurveDisplay.from_estimator(pipe)

    (line,) = display.lines_
    assert_allclose(line.get_ydata(), pipe[-1].history_["loss"])


def test_validation_curve_shorter_than_training_is_aligned_to_the_end(plt):
    # e.g. a warm-started fit that got X_val only the second time
    fitted = FittedLike({"loss": [5.0, 4.0, 3.0, 2.0], "val_loss": [3.5, 2.5]})
    display = TrainingCurveDisplay.from_estimator(fitted)
    assert_array_equal(display.lines_[1].get_xdata(), [3, 4])


def test_from_history_accepts_a_keras_history_like_object(plt):
    keras_history = types.SimpleNamespace(
        history={"loss": [1.0, 0.8, 0.7], "val_loss": [1.1, 0.9, 0.85]}
    )
    display = TrainingCurveDisplay.from_history(
        keras_history, name="keras", y_label="MAE"
    )
    train, val = display.lines_
    assert_allclose(train.get_ydata(), [1.0, 0.8, 0.7])
    assert_allclose(val.get_ydata(), [1.1, 0.9, 0.85])
    assert train.get_label() == "keras, training"
    assert display.ax_.get_ylabel() == "MAE"


def test_from_history_without_the_requested_curve_raises(plt):
    with pytest.raises(ValueError, match="no 'val_score'"):
        TrainingCurveDisplay.from_history({"loss": [1.0]}, metric="val_score")
    with pytest.raises(ValueError, match="non-empty"):
        TrainingCurveDisplay.from_history({"loss": []})


def test_plot_without_matplotlib_raises_an_import_error_naming_the_extra(
    monkeypatch,
):
    # None in sys.modules makes `import matplotlib` fail, installed or not
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    fitted = FittedLike({"loss": [2.0, 1.0]})
    with pytest.raises(ImportError, match=r"pip install \"sknormnet\[plot\]\""):
        TrainingCurveDisplay.from_estimator(fitted)
    with pytest.raises(ImportError, match=r"TrainingCurveDisplay\.plot requires"):
        TrainingCurveDisplay(train_curve=[1.0]).plot()


def test_importing_sknormnet_plotting_does_not_import_matplotlib():
    code = textwrap.dedent(
        """
        import sys
        import sknormnet.plotting
        assert "matplotlib" not in sys.modules, "matplotlib was imported"
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
