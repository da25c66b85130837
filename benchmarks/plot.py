"""Draw the results of ``run.py --json FILE`` as one figure, and as tables.

``python benchmarks/plot.py results.json docs/_static/benchmarks.png
--table docs/benchmark_results.inc``: four panels, each as seconds on a log
scale, every backend side by side: the fresh fit, the steady epoch (30k and
300k rows), the predict latency and the grid search. ``--table`` also writes
the goals and the figures as reStructuredText tables (the performance page
of the docs includes that file).
"""

from __future__ import annotations

import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def bars(ax, groups: list[str], series: dict[str, list[float]], title: str, unit=""):
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(groups))
    for i, (name, values) in enumerate(series.items()):
        values = np.array([np.nan if v is None else v for v in values], dtype=float)
        positions = x + (i - (len(series) - 1) / 2) * width
        ax.bar(positions, values, width, label=name)
        for position, value in zip(positions, values, strict=True):
            if np.isfinite(value):
                text = f"{value:.3g}"
                ax.annotate(
                    text,
                    (position, value),
                    ha="center",
                    va="bottom",
                    fontsize=6,
                    rotation=90,
                    xytext=(0, 2),
                    textcoords="offset points",
                )
    ax.set_xticks(x, groups, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel(f"seconds{unit}")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    ax.margins(y=0.25)


def list_table(title: str, header: list[str], rows: list[list[str]]) -> str:
    lines = [f".. list-table::{f' {title}' if title else ''}", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    return "\n".join(lines) + "\n"


def tables(results: dict) -> str:
    out = []
    rows = []
    for goal in results["goals"]:
        verdict = "met" if goal["met"] else "**not met**"
        if goal["target"] in ("reference", "before/after"):
            verdict = "(reference)"
        figure = goal["figure"] + (f" ({goal['detail']})" if goal["detail"] else "")
        rows.append([goal["goal"], figure, goal["target"], verdict])
    out.append(list_table("Goals", ["goal", "measured", "target", "verdict"], rows))
    for backend, part in results["backends"].items():
        fresh = part["fresh"]
        rows = [
            [
                name,
                f"{sec:.3f}",
                f"{sec / fresh['keras']:.2f}",
                f"{sec / fresh['mlp']:.2f}",
            ]
            for name, sec in fresh.items()
        ]
        out.append(
            list_table(
                f"{backend}: fresh-model fit, 1,600 x 11, 20 epochs",
                ["", "seconds", "vs raw Keras", "vs MLPRegressor"],
                rows,
            )
        )
        for n_rows, steady in part["steady"].items():
            rows = [
                [
                    name,
                    f"{sec:.4f}",
                    f"{sec / steady['keras_best']:.2f}",
                    f"{sec / steady['mlp']:.2f}",
                ]
                for name, sec in steady.items()
                if name != "keras_best_setting"
            ]
            out.append(
                list_table(
                    f"{backend}: steady epoch, {int(n_rows):,} x 20, batch 256",
                    ["", "seconds per epoch", "vs raw Keras best", "vs MLPRegressor"],
                    rows,
                )
            )
        rows = [
            [
                f"{int(n_rows):,}",
                f"{row['sknormnet'] * 1e3:.3f}",
                f"{row['keras_predict'] * 1e3:.3f}",
                f"{row['mlp'] * 1e3:.3f}",
                f"{row['keras_predict'] / row['sknormnet']:.1f}x",
            ]
            for n_rows, row in part["predict"].items()
        ]
        out.append(
            list_table(
                f"{backend}: predict latency (milliseconds per call)",
                ["rows", "sknormnet", "model.predict", "MLPRegressor", "speed-up"],
                rows,
            )
        )
        rows = []
        for memory in part.get("memory", {}).values():
            what = "a new architecture each" if memory["varied"] else "one architecture"
            curve = memory.get("growth_every_50_mib", {})
            warmup, trimmed = memory.get("warmup_mib"), memory.get("trimmed_mib")
            rows.append(
                [
                    f"{memory['fits']} fits, {what}",
                    "-" if warmup is None else f"{warmup:+.0f}",
                    f"{memory['before_mib']:.0f} -> {memory['after_mib']:.0f}",
                    f"{memory['after_mib'] - memory['before_mib']:+.1f}",
                    "-"
                    if trimmed is None
                    else f"{trimmed - memory['before_mib']:+.0f}",
                    ", ".join(f"{int(n)}: {g:+.0f}" for n, g in curve.items()) or "-",
                ]
            )
        sparse = part.get("sparse")
        if sparse:
            rows.append(
                [
                    f"one fit on {sparse['rows']:,} x {sparse['columns']:,} sparse "
                    f"({sparse['density']:.0%}, {sparse['matrix_mib']:.0f} MiB)",
                    "-",
                    f"peak above {sparse['baseline_mib']:.0f}",
                    f"+{sparse['peak_growth_mib']:.0f}",
                    "-",
                    ", ".join(
                        f"{int(n):,} rows: +{g:.0f}"
                        for n, g in sparse.get("peak_growth_by_rows_mib", {}).items()
                    )
                    or "-",
                ]
            )
        if rows:
            out.append(
                list_table(
                    f"{backend}: memory (resident set size, MiB)",
                    [
                        "",
                        "warm-up",
                        "before -> after",
                        "growth",
                        "growth after malloc_trim",
                        "growth along the way",
                    ],
                    rows,
                )
            )
    grid = results.get("grid") or {}
    if grid:
        rows = [
            [
                name,
                f"{row['rows']:,}",
                str(row["epochs"]),
                ", ".join(f"{sec:.1f}" for sec in row["seconds"]),
            ]
            for name, row in grid.items()
        ]
        out.append(
            list_table(
                "Spotify 2 x 2 grid search, GroupKFold(3): seconds per search",
                ["", "training rows", "epochs per fit", "searches in a row"],
                rows,
            )
        )
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="JSON written by run.py --json")
    parser.add_argument("figure", help="PNG to write")
    parser.add_argument("--table", help="also write the tables (reStructuredText)")
    args = parser.parse_args(argv)
    results = json.loads(open(args.results).read())
    if args.table:
        with open(args.table, "w") as out:
            out.write(
                ".. generated by benchmarks/plot.py from the results of "
                "benchmarks/run.py; do not edit\n\n" + tables(results)
            )
        print(f"wrote {args.table}")
    target = args.figure
    backends = list(results["backends"])
    short = {"tensorflow": "TF", "jax": "JAX"}
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))

    parts = results["backends"]
    bars(
        axes[0, 0],
        [short.get(b, b) for b in backends],
        {
            "sknormnet": [parts[b]["fresh"]["sknormnet"] for b in backends],
            "sknormnet, first fit of the architecture": [
                parts[b]["fresh"]["sknormnet_first"] for b in backends
            ],
            "raw Keras": [parts[b]["fresh"]["keras"] for b in backends],
            "MLPRegressor": [parts[b]["fresh"]["mlp"] for b in backends],
        },
        "Fresh-model fit, 1,600 rows x 20 epochs",
    )

    groups, skn, keras_best, mlp = [], [], [], []
    for b in backends:
        for rows, steady in parts[b]["steady"].items():
            groups.append(f"{short.get(b, b)} {int(rows) // 1000}k")
            skn.append(steady["sknormnet"])
            keras_best.append(steady["keras_best"])
            mlp.append(steady["mlp"])
    bars(
        axes[0, 1],
        groups,
        {
            "sknormnet": skn,
            "raw Keras, best steps_per_execution": keras_best,
            "MLPRegressor": mlp,
        },
        "Steady epoch (20 features, batch 256)",
        " per epoch",
    )

    groups, skn, keras_predict = [], [], []
    for b in backends:
        for rows, row in parts[b]["predict"].items():
            groups.append(f"{short.get(b, b)} {int(rows):,}")
            skn.append(row["sknormnet"])
            keras_predict.append(row["keras_predict"])
    bars(
        axes[1, 0],
        groups,
        {"sknormnet predict": skn, "Keras model.predict": keras_predict},
        "Predict latency, rows per call",
    )

    grid = results.get("grid") or {}
    labels = {
        "sknormnet_n_jobs1": "sknormnet\nn_jobs=1",
        "sknormnet_n_jobs2": "sknormnet\nn_jobs=2",
        "sknormnet_n_jobs2_unlimited": "sknormnet n_jobs=2\nTF threads unlimited",
        "scikeras_n_jobs1": "scikeras\nn_jobs=1",
    }
    names = [n for n in labels if n in grid]
    if names:
        series = {"first search": [grid[n]["seconds"][0] for n in names]}
        if all(len(grid[n]["seconds"]) > 1 for n in names):
            series["later search (same process)"] = [
                min(grid[n]["seconds"][1:]) for n in names
            ]
        bars(
            axes[1, 1],
            [labels[n] for n in names],
            series,
            "Spotify 2 x 2 grid search, GroupKFold(3)",
        )
    else:
        axes[1, 1].set_axis_off()

    m, v = results["machine"], results["versions"]
    fig.suptitle(
        f"sknormnet benchmarks, {results['date']}: {m['cores']} CPU cores "
        f"({m['cpu']}), no GPU; Keras {v.get('keras')}, TensorFlow "
        f"{v.get('tensorflow')}, JAX {v.get('jax')}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
