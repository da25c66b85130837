"""Collection rules for the doctest run over the package (``testpaths``)."""

import importlib.util

# The JAX training engine imports JAX at module level; JAX is an optional
# extra (``pip install "sknormnet[jax]"``), so without it the module cannot
# be imported for doctest collection. It holds no doctests.
collect_ignore = []
if importlib.util.find_spec("jax") is None:
    collect_ignore.append("sknormnet/_engine_jax.py")
