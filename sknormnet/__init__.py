"""sknormnet: scikit-learn neural-network estimators with dropout and batch normalization.

The estimators train Keras 3 networks; Keras is imported on the first ``fit``,
not by ``import sknormnet``.
"""

from ._classifier import NormNetClassifier
from ._regressor import NormNetRegressor

__version__ = "0.1.0.dev0"

__all__ = ["NormNetClassifier", "NormNetRegressor", "__version__"]
