"""Which trainer runs a fit: the backend's engine, or Keras' own ``Model.fit``.

The only module that knows which Keras backend runs. TensorFlow and JAX each
have an engine module (``_engine_tensorflow``, ``_engine_jax``) with one
class, ``Runner(network, optimizer)``:

- ``load(weights, optimizer_state)`` puts a fit's starting state in;
- ``plan(steps)`` tells it the most steps the fit will run (a runner may
  choose how to run them from that, never from earlier fits);
- ``run(xs, ys, sample_weights, bits, learning_rates, l2, n_steps)`` trains
  on the first ``n_steps`` batches of a chunk (the rest is padding) and
  returns those steps' losses;
- ``weights()`` / ``optimizer_state()`` give the state back as host arrays;
- ``close()`` releases what the runner compiled; ``pads`` says whether chunks
  must be padded to one of a few lengths (fixed compiled shapes).

Every other backend, and every fit with user callbacks (which expect a Keras
model and Keras' ``fit`` loop around them), trains with ``Model.fit`` on a
model built for that fit alone (``_engine_keras``).

Compiling a runner costs about a second; a grid search fits the same network
for every fold. Runners are therefore kept, per (network, optimizer), in a
small least-recently-used cache. A runner holds nothing that user code can
reach (no callback ever sees it) and is taken out of the cache while a fit
uses it, so concurrent fits never share one; the cache is bounded, and an
evicted runner releases its compiled code.

Building a runner (tracing, optimizing and compiling a graph) allocates and
frees many small blocks in the C heap; glibc keeps freed heap pages mapped,
so a search over many architectures would see the process' resident memory
climb by the allocator's slack rather than by anything still in use (in
``benchmarks/run.py``, 300 new architectures grew TensorFlow by 88 MiB, of
which 71 live, and JAX by 178 MiB, of which 66 live, with 8 runners kept
and no trimming). A fit that built a runner therefore ends by asking glibc
to hand free pages back (``malloc_trim``, a few milliseconds, once per new
runner, never on a fit that reused one). It changes no allocator setting
and frees nothing in use; on other C libraries it is skipped.
"""

from __future__ import annotations

import ctypes
import importlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import keras

from ._train import EngineTrainer

ENGINES = {"tensorflow": "_engine_tensorflow", "jax": "_engine_jax"}
MAX_RUNNERS = 4

_runners: OrderedDict = OrderedDict()
_lock = threading.Lock()


def _load_malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none."""
    try:
        return ctypes.CDLL(None).malloc_trim  # the C library the process runs on
    except (OSError, AttributeError, TypeError):  # not glibc, or not a POSIX dlopen
        return None


_malloc_trim = _load_malloc_trim()


def release_free_heap() -> None:
    """Return the C heap's free pages to the system (glibc only; see above)."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def backend_engine():
    """The running backend's engine module, or None (Keras' ``Model.fit`` path)."""
    name = ENGINES.get(keras.backend.backend())
    return importlib.import_module(f"{__package__}.{name}") if name else None


@contextmanager
def open_trainer(
    network, optimizer, weights, optimizer_state, data, rules, rng, callbacks
) -> Iterator:
    """The trainer for one fit, loaded with its starting state."""
    engine = None if callbacks else backend_engine()
    if engine is None:
        from ._engine_keras import KerasTrainer

        yield KerasTrainer(
            network, optimizer, weights, optimizer_state, data, rules, rng, callbacks
        )
        return
    key = (engine.__name__, network, optimizer)
    with _lock:
        runner = _runners.pop(key, None)
    built = runner is None
    if built:
        runner = engine.Runner(network, optimizer)
    try:
        runner.load(weights, optimizer_state)
        yield EngineTrainer(runner, network, data, rules, rng)
    finally:
        with _lock:
            _runners[key] = runner
            evicted = []
            while len(_runners) > MAX_RUNNERS:
                evicted.append(_runners.popitem(last=False)[1])
        for old in evicted:
            old.close()
        if built or evicted:
            release_free_heap()


def clear() -> None:
    """Close and drop every cached runner (benchmarks start from a cold cache)."""
    with _lock:
        runners = list(_runners.values())
        _runners.clear()
    for runner in runners:
        runner.close()
