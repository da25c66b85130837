"""Plots of fitted sknormnet estimators, in scikit-learn's Display style.

matplotlib is optional (``pip install "sknormnet[plot]"``): importing this
module does not import it; drawing does, and says what to install when it is
missing.
"""

from ._training_curve import TrainingCurveDisplay

__all__ = ["TrainingCurveDisplay"]
