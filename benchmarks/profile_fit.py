"""Where the time of one small NormNetRegressor fit goes (cProfile).

``python benchmarks/profile_fit.py`` profiles a fit of the benchmark network
(1,600 x 11, 20 epochs, batch 256) in a warm process, the way a grid search
runs its second and later fits of an architecture; ``--first`` profiles the
first fit of an architecture instead (its runner is built and traced then).
It prints the fit's time split into its parts, then the functions with the
most cumulative time; ``--output FILE`` keeps the raw profile for
``python -m pstats`` or snakeviz.

For a sampling profile of native frames (TensorFlow's C++ runtime) use
py-spy: ``py-spy record --native -o fit.svg -- python benchmarks/profile_fit.py``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import make_data, sknormnet_fit

# (part, module file suffix, function name): cumulative time of each
PARTS = [
    ("input validation (sklearn)", "sklearn/utils/validation.py", "validate_data"),
    ("early-stopping split", "sknormnet/_base.py", "_split_validation"),
    ("specs and initial weights", "sknormnet/_base.py", "_specs"),
    ("specs and initial weights", "sknormnet/_spec.py", "initial_weights"),
    ("open the runner, load the state", "sknormnet/_engines.py", "open_trainer"),
    ("epochs: rows, masks, chunks", "sknormnet/_train.py", "run_epoch"),
    ("end-of-epoch monitor", "sknormnet/_train.py", "end_epoch"),
    ("fold BatchNorm into the weights", "sknormnet/_spec.py", "fold"),
]  # fmt: skip
# inside the epochs: building the runner, tracing or compiling, the steps
NESTED = [
    ("build the runner", "sknormnet/_engine_tensorflow.py", "__init__"),
    ("build the runner", "sknormnet/_engine_jax.py", "__init__"),
    ("trace the steps (TF)", "tracing_compilation.py", "_create_concrete_function"),
    ("compile the steps (JAX)", "jax/_src/compiler.py", "compile_or_get_cached"),
    ("the steps themselves (TF)", "tensorflow/python/eager/execute.py", "quick_execute"),
]  # fmt: skip


def part_times(stats: pstats.Stats, parts) -> dict[str, float]:
    out: dict[str, float] = {}
    for (filename, _, function), (_, _, _, cumulative, callers) in stats.stats.items():
        for part, suffix, name in parts:
            if function != name or not filename.endswith(suffix):
                continue
            if name == "validate_data":
                # called by the estimator's _training_data (once for X, y)
                cumulative = sum(
                    c[3] for f, c in callers.items() if f[2] == "_training_data"
                )
            if name == "open_trainer":  # a context manager: its entry only
                cumulative = sum(c[3] for f, c in callers.items() if f[2] == "train")
            out[part] = out.get(part, 0.0) + cumulative
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", action="store_true", help="profile a first fit")
    parser.add_argument("--rows", type=int, default=1600)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--output", help="write the raw profile here")
    args = parser.parse_args(argv)

    from sklearn.exceptions import ConvergenceWarning

    from sknormnet import _engines

    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = make_data(args.rows, 11)
    sknormnet_fit(X, y, 1)  # imports, the runner, first-call costs
    sknormnet_fit(X, y, args.epochs)
    if args.first:
        _engines.clear()
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    sknormnet_fit(X, y, args.epochs)
    profiler.disable()
    total = time.perf_counter() - start
    if args.output:
        profiler.dump_stats(args.output)

    stats = pstats.Stats(profiler)
    parts = part_times(stats, PARTS)
    nested = part_times(stats, NESTED)
    kind = "first fit of the architecture" if args.first else "warm fit"
    steps = int(np.ceil(args.rows / 256))
    print(
        f"# one {kind}: {args.rows:,} x 11, {args.epochs} epochs x {steps} steps: "
        f"{total:.3f} s (under cProfile, which slows every Python call a little)"
    )
    print("| part | seconds | share |\n|---|---|---|")
    for part in dict.fromkeys(p for p, _, _ in PARTS):
        seconds = parts.get(part, 0.0)
        print(f"| {part} | {seconds:.3f} | {seconds / total:.0%} |")
        if part.startswith("epochs"):
            for sub, seconds in nested.items():
                print(f"| - of which: {sub} | {seconds:.3f} | {seconds / total:.0%} |")
    rest = total - sum(parts.values())
    print(f"| everything else | {rest:.3f} | {rest / total:.0%} |")
    print(f"\nTop {args.top} functions by cumulative time:")
    stats.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
