"""Give the Keras backend the thread limit of a parallel worker.

joblib's process workers (``GridSearchCV(n_jobs=...)``) and Dask's nanny
workers share the cores out by setting ``OMP_NUM_THREADS`` (and the BLAS
variables) in each worker. TensorFlow's intra-/inter-op thread pools read
none of them: every worker would start a pool of one thread per core.

``limit_backend_threads`` runs before the package imports Keras for the
first time. When ``OMP_NUM_THREADS`` is set, Keras is not imported yet and
the user has set neither ``TF_NUM_INTRAOP_THREADS`` nor
``TF_NUM_INTEROP_THREADS``, it sets both to the same limit (TensorFlow reads
them when it starts its runtime). JAX is left alone: XLA's CPU flags for a
single thread made no measurable difference to a parallel grid search.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping

_TF_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def thread_limit(
    environ: Mapping[str, str], name: str = "OMP_NUM_THREADS"
) -> int | None:
    """A thread limit: the variable ``name`` when it is a positive integer."""
    try:
        limit = int(environ.get(name, ""))
    except ValueError:
        return None
    return limit if limit > 0 else None


def backend_thread_settings(
    environ: Mapping[str, str], imported: frozenset[str] | set[str]
) -> dict[str, str]:
    """The variables to set (name -> value) for ``environ``; empty if none.

    ``imported`` holds the names of the modules already imported.
    """
    limit = thread_limit(environ)
    if limit is None or "keras" in imported:  # a backend is running already
        return {}
    if "tensorflow" in imported or any(v in environ for v in _TF_VARIABLES):
        return {}
    return dict.fromkeys(_TF_VARIABLES, str(limit))


def limit_backend_threads(environ: MutableMapping[str, str] = os.environ) -> None:
    """Set ``backend_thread_settings`` in ``environ`` (the process environment)."""
    environ.update(backend_thread_settings(environ, set(sys.modules)))
