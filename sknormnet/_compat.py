"""Every private scikit-learn import of the package, in one place.

scikit-learn does not promise these names; when one moves, only this module
changes. ``validate_data`` is public since scikit-learn 1.6, the oldest
version supported.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.multiclass import _check_partial_fit_first_call
from sklearn.utils.validation import _check_sample_weight

__all__ = [
    "Interval",
    "Options",
    "StrOptions",
    "_check_partial_fit_first_call",
    "_check_sample_weight",
    "_fit_context",
]
