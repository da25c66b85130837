"""Give the Keras backend the thread limit of a parallel worker.

joblib's process workers (``GridSearchCV(n_jobs=...)``) and Dask's nanny
workers share the cores out by setting ``OMP_NUM_THREADS`` (and the BLAS
variables) in each worker. TensorFlow's intra-/inter-op thread pools and
XLA's CPU runtime (JAX) read none of them: every worker would start one
thread per core for each pool, and on a small machine the workers then spend
their time preempting each other.

``limit_backend_threads`` runs before the package imports Keras for the
first time. When ``OMP_NUM_THREADS`` is set it passes the same limit on in
the backends' own variables, each only if the user has not set it and its
backend is not imported yet (they are read when the backend starts):

- TensorFlow: ``TF_NUM_INTRAOP_THREADS`` and ``TF_NUM_INTEROP_THREADS``;
- JAX (XLA CPU), for a limit of one thread:
  ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping

_TF_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
_XLA_FLAGS = ("--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1")


def thread_limit(environ: Mapping[str, str]) -> int | None:
    """The worker's thread limit: ``OMP_NUM_THREADS`` when it is a positive integer."""
    try:
        limit = int(environ.get("OMP_NUM_THREADS", ""))
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
    settings: dict[str, str] = {}
    if "tensorflow" not in imported and not any(v in environ for v in _TF_VARIABLES):
        settings.update(dict.fromkeys(_TF_VARIABLES, str(limit)))
    xla_flags = environ.get("XLA_FLAGS", "")
    if (
        limit == 1
        and not {"jax", "jaxlib"} & set(imported)
        and "xla_cpu_multi_thread_eigen" not in xla_flags
        and "intra_op_parallelism_threads" not in xla_flags
    ):
        settings["XLA_FLAGS"] = " ".join([*xla_flags.split(), *_XLA_FLAGS])
    return settings


def limit_backend_threads(environ: MutableMapping[str, str] = os.environ) -> None:
    """Set ``backend_thread_settings`` in ``environ`` (the process environment)."""
    environ.update(backend_thread_settings(environ, set(sys.modules)))
