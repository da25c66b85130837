"""Run scikit-learn's own MLP test module against NormNetRegressor / NormNetClassifier.

scikit-learn ships its tests in the wheel: ``sklearn/neural_network/tests/test_mlp.py``
exercises ``MLPRegressor`` and ``MLPClassifier`` (worked examples, partial_fit,
warm starts, early stopping, dtypes, error messages, ...). This script copies
that module, as installed next to ``sklearn.__file__``, into a temporary
directory (nothing of scikit-learn's is written into this repository), rewrites
it so that the two names stand for sknormnet's estimators, runs it with pytest
in a subprocess and prints a report:

- the number of tests passed, failed, skipped and in error;
- every failing test id with a one-line cause (exception type and the first
  line of its message);
- the failures grouped by a cause category, inferred from the error text by
  the small pattern table ``CATEGORIES`` below (a reading aid: a failure no
  pattern matches goes to 'other' and its report is printed in full).

The rewrite
-----------
Only the statement(s) importing ``MLPClassifier`` / ``MLPRegressor`` from
``sklearn.neural_network`` change, into::

    from sknormnet import NormNetClassifier as MLPClassifier, NormNetRegressor as MLPRegressor

on the same line, so that line numbers in tracebacks are those of the installed
file. Everything else is left as it is, the imports of private scikit-learn
helpers (``sklearn.utils._testing``, ...) included. The rewrite works on the
module's syntax tree and stops with an error if the names are imported in a
form it does not know. The ``global_random_seed`` fixture comes from
scikit-learn's own ``conftest.py`` (its ``pytest_generate_tests`` hook), with
its default seed, 42, unless ``SKLEARN_TESTS_GLOBAL_RANDOM_SEED`` is set.

Running it
----------
From the repository root, with the virtualenv's Python::

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/sklearn_mlp_tests.py
    .venv/bin/python benchmarks/sklearn_mlp_tests.py --backend jax
    .venv/bin/python benchmarks/sklearn_mlp_tests.py -k "partial_fit or warm_start"
    .venv/bin/python benchmarks/sklearn_mlp_tests.py --junitxml mlp-tf.xml
    .venv/bin/python benchmarks/sklearn_mlp_tests.py --from-junitxml mlp-tf.xml

``--backend`` sets ``KERAS_BACKEND`` for the pytest process (default
tensorflow). A full run trains a few hundred small networks: a few
minutes on two cores. On a shared machine, run it under ``nice`` with
``OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1``.
``--junitxml`` keeps pytest's JUnit XML report; ``--from-junitxml`` prints
the report of such a file without running anything.

The exit status is 0 whatever the tests' outcome (this is a report, not a
gate); it is non-zero when the scikit-learn test module cannot be found or
rewritten, or when pytest itself fails (usage error, crash, collection error).
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

# scikit-learn's names -> sknormnet's estimators that stand for them
SUBSTITUTES = {
    "MLPClassifier": "NormNetClassifier",
    "MLPRegressor": "NormNetRegressor",
}
TEST_MODULE = "test_mlp.py"

# Cause categories: (name, where to look, pattern). 'error' searches the
# text of the exception(s) raised, 'report' the whole failure report, which
# also shows the source line of each traceback frame (for failures whose
# exception says little, such as "DID NOT RAISE"). The first match wins; no
# match means 'other'. Only the first failure of a test is seen: a test that
# trips over one difference may hide others behind it.
OTHER = "other"
CATEGORIES: list[tuple[str, str, re.Pattern[str]]] = [
    ("lbfgs solver (not supported by design)", "error", re.compile(r"lbfgs|max_fun")),
    ("loss='poisson'", "error", re.compile(r"'poisson'")),
    (
        "n_iter_no_change=inf",
        "error",
        re.compile(r"'n_iter_no_change' parameter .*Got inf\b"),
    ),
    (
        "parameter type (int/NumPy scalar for a float parameter)",
        "error",
        re.compile(r"must be a float|should be float|parameter of .* must be .*float"),
    ),
    (
        "private internals (_forward_pass, _backprop, _unpack, ...)",
        "error",
        re.compile(r"has no attribute '_\w+'"),
    ),
    (
        "validation set too small",
        "report",
        re.compile(r"validation set is too small"),
    ),
    (
        "partial_fit chunk size",
        "error",
        re.compile(r"network's shape changed since the last fit"),
    ),
    (
        "float32 outputs / tolerance",
        "report",
        re.compile(r"\.dtype ==|Not equal to tolerance|not almost equal"),
    ),
    (
        "single-class y",
        "error",
        re.compile(r"needs samples of at least 2 classes"),
    ),
    ("verbose output format", "report", re.compile(r"'Iteration' in")),
    (
        "error message wording (pytest.raises match)",
        "error",
        re.compile(r"Regex pattern did not match"),
    ),
]

# pytest -v progress lines, echoed while the tests run
_PROGRESS = re.compile(
    r"^(\S+::\S.* (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b|collected \d+ item)"
)
_CHAINED = re.compile(
    r"^(?:During handling of the above exception, another exception occurred:"
    r"|The above exception was the direct cause of the following exception:)$",
    re.MULTILINE,
)
# a traceback frame of --tb=short: 'file.py:123: in function' and its source line
_FRAME = re.compile(r"^(\S+\.py:\d+): in \S+\n\s+(.*)$", re.MULTILINE)
_TYPED = re.compile(r"^([A-Za-z_][\w.]*): ?(.*)\Z", re.DOTALL)


# ------------------------------------------------------------ preparation
def find_sklearn_test_module() -> Path:
    """The installed scikit-learn's ``neural_network/tests/test_mlp.py``."""
    import sklearn

    path = Path(sklearn.__file__).resolve().parent / "neural_network" / "tests"
    return path / TEST_MODULE


def rewrite_imports(source: str) -> str:
    """``source`` with MLPClassifier / MLPRegressor imported from sknormnet.

    Each ``from sklearn.neural_network[...] import ...`` statement that names
    one of them is replaced, on its own first line (the lines it spanned are
    left blank, so the line numbers stay those of the original), by an import
    of the substitutes under the scikit-learn names, plus an import of the
    statement's other names from where they came.
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    edits = []
    seen = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in SUBSTITUTES:
            raise RuntimeError(
                f"line {node.lineno}: {node.attr} is used as an attribute "
                f"({ast.unparse(node)}); only imports can be rewritten."
            )
        if not (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module is not None
            and (
                node.module == "sklearn.neural_network"
                or node.module.startswith("sklearn.neural_network.")
            )
        ):
            continue
        swapped = [a for a in node.names if a.name in SUBSTITUTES]
        if not swapped:
            continue
        kept = [a for a in node.names if a.name not in SUBSTITUTES]
        seen.update(a.name for a in swapped)
        first = lines[node.lineno - 1]
        prefix = first[: node.col_offset]
        if prefix.strip() or node.end_lineno is None:
            raise RuntimeError(
                f"line {node.lineno}: the import shares its line with other "
                "code; cannot rewrite it."
            )
        statements = []
        if kept:
            names = ", ".join(
                a.name if a.asname is None else f"{a.name} as {a.asname}" for a in kept
            )
            statements.append(f"from {node.module} import {names}")
        names = ", ".join(
            f"{SUBSTITUTES[a.name]} as {a.asname or a.name}" for a in swapped
        )
        statements.append(f"from sknormnet import {names}")
        original = " ".join(
            line.strip() for line in lines[node.lineno - 1 : node.end_lineno]
        )
        new = f"{prefix}{'; '.join(statements)}  # rewritten, was: {original}\n"
        blank = ["\n"] * (node.end_lineno - node.lineno)
        edits.append((node.lineno, node.end_lineno, [new, *blank]))
    missing = sorted(set(SUBSTITUTES) - seen)
    if missing:
        raise RuntimeError(
            f"no 'from sklearn.neural_network import ...' of {', '.join(missing)} "
            "found; the test module's layout changed."
        )
    for start, end, new_lines in sorted(edits, reverse=True):
        lines[start - 1 : end] = new_lines
    return "".join(lines)


def prepare(workdir: Path, test_module: Path) -> Path:
    """Write the rewritten test module, a conftest and an empty pytest.ini."""
    target = workdir / TEST_MODULE
    target.write_text(rewrite_imports(test_module.read_text(encoding="utf-8")))
    (workdir / "conftest.py").write_text(
        textwrap.dedent(
            '''\
            """The global_random_seed fixture, parametrized as in scikit-learn."""

            from sklearn.conftest import pytest_generate_tests  # noqa: F401
            '''
        )
    )
    # pytest's rootdir and (empty) configuration: nothing from any project
    (workdir / "pytest.ini").write_text("[pytest]\n")
    return target


# ---------------------------------------------------------------- running
def run_pytest(workdir: Path, backend: str, keyword: str | None, xml: Path):
    """Run pytest on the rewritten module; return (exit code, log path)."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        TEST_MODULE,
        "-p",
        "no:cacheprovider",
        "-v",
        "--tb=short",
        "-o",
        "junit_family=xunit2",
        f"--junitxml={xml}",
        f"--basetemp={workdir / 'basetemp'}",
    ]
    if keyword:
        command += ["-k", keyword]
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONDONTWRITEBYTECODE="1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    log = workdir / "pytest.log"
    print(f"$ KERAS_BACKEND={backend} {shlex.join(command)}", flush=True)
    with (
        log.open("w", encoding="utf-8") as out,
        subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as proc,
    ):
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            if _PROGRESS.match(line):
                print("  " + line.rstrip(), flush=True)
    return proc.returncode, log


# ---------------------------------------------------------------- reading
@dataclass
class Outcome:
    test_id: str
    status: str  # 'passed', 'failed', 'error' or 'skipped'
    message: str = ""  # pytest's one-paragraph summary of the exception
    report: str = ""  # the full failure report (traceback and exception)

    @property
    def exceptions(self) -> list[str]:
        """The text of each exception of the report, the first raised first.

        A chain has several: an exception raised inside ``pytest.warns`` is
        followed by pytest's own "DID NOT WARN".
        """
        texts = []
        for section in _CHAINED.split(self.report):
            lines = [
                line[4:]
                for line in section.splitlines()
                if line == "E" or line.startswith("E   ")
            ]
            if lines:
                texts.append("\n".join(lines))
        if texts:
            return texts
        # no report text: pytest's summary, as 'failed on setup with "..."'
        found = re.match(r'^failed on \w+ with "(.*)"\Z', self.message, re.DOTALL)
        return [found.group(1) if found else self.message]

    @property
    def cause(self) -> str:
        """The first exception's type and first line, and the last one's if chained."""
        exceptions = self.exceptions
        cause = _one_line(exceptions[0])
        if re.match(r"(AssertionError: )?assert\b", exceptions[0]):
            # a bare assert says little by itself: add the failing statement
            frames = _FRAME.findall(_CHAINED.split(self.report)[0])
            if frames:
                cause += " [{}: {}]".format(*frames[-1])
        if len(exceptions) > 1:
            cause += f"  (then {_one_line(exceptions[-1])})"
        return cause

    @property
    def category(self) -> str:
        texts = {"error": "\n".join(self.exceptions), "report": self.report}
        texts["report"] += "\n" + texts["error"]
        for name, where, pattern in CATEGORIES:
            if pattern.search(texts[where]):
                return name
        return OTHER


def _one_line(exception: str) -> str:
    """'Type: first non-empty line of the message' of an exception's text."""
    typed = _TYPED.match(exception)
    if typed:
        kind, body = typed.groups()
    elif exception.startswith("assert"):  # pytest's rewritten assert
        kind, body = "AssertionError", exception
    else:
        kind, body = "", exception
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    if first == "Regex pattern did not match.":  # pytest.raises(match=...)
        actual = re.search(r"^\s*(?:Actual message|Input): (.*)$", body, re.M)
        if actual:
            first += f" Actual message: {actual.group(1)}"
    return f"{kind}: {first}" if kind else first


def read_junit(path: Path) -> list[Outcome]:
    outcomes = []
    for case in ET.parse(path).getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/")
        test_id = f"{module}.py::{case.get('name')}"
        outcome = Outcome(test_id, "passed")
        for status in ("failure", "error", "skipped"):
            element = case.find(status)
            if element is not None:
                outcome = Outcome(
                    test_id,
                    "failed" if status == "failure" else status,
                    element.get("message", ""),
                    element.text or "",
                )
                break
        outcomes.append(outcome)
    return outcomes


# ---------------------------------------------------------------- report
def print_report(outcomes: list[Outcome]) -> None:
    counts = {s: 0 for s in ("passed", "failed", "skipped", "error")}
    for outcome in outcomes:
        counts[outcome.status] += 1
    print()
    print(
        f"{len(outcomes)} tests: {counts['passed']} passed, {counts['failed']} "
        f"failed, {counts['skipped']} skipped, {counts['error']} errors"
    )

    skipped = [o for o in outcomes if o.status == "skipped"]
    if skipped:
        print("\nSkipped:")
        for outcome in skipped:
            print(f"  {outcome.test_id}: {outcome.message}")

    failing = [o for o in outcomes if o.status in ("failed", "error")]
    if not failing:
        return
    width = max(len(o.test_id) for o in failing)
    print("\nFailing tests (status, id, cause):")
    for outcome in failing:
        status = "ERROR " if outcome.status == "error" else "FAILED"
        print(f"  {status} {outcome.test_id:<{width}}  {outcome.cause}")

    print("\nBy cause category:")
    names = [name for name, _, _ in CATEGORIES] + [OTHER]
    for name in names:
        members = [o for o in failing if o.category == name]
        if not members:
            continue
        print(f"  {name} ({len(members)}):")
        for outcome in members:
            print(f"    {outcome.test_id}")

    others = [o for o in failing if o.category == OTHER]
    if others:
        print(f"\nUncategorized ('{OTHER}') failures, in full:")
        for outcome in others:
            rule = f"---- {outcome.test_id} "
            print("\n" + rule + "-" * max(4, 79 - len(rule)))
            print(outcome.report.rstrip() or outcome.message)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--backend",
        default="tensorflow",
        help="KERAS_BACKEND for the test run (tensorflow, jax, ...)",
    )
    parser.add_argument(
        "-k", dest="keyword", help="passed to pytest -k: select tests by expression"
    )
    parser.add_argument(
        "--junitxml", type=Path, help="also keep pytest's JUnit XML report here"
    )
    parser.add_argument(
        "--from-junitxml",
        type=Path,
        metavar="PATH",
        help="print the report of an existing JUnit XML file; run nothing",
    )
    args = parser.parse_args(argv)

    if args.from_junitxml is not None:
        print_report(read_junit(args.from_junitxml))
        return 0

    test_module = find_sklearn_test_module()
    if not test_module.is_file():
        print(
            f"error: scikit-learn's test module not found at {test_module}",
            file=sys.stderr,
        )
        return 2
    print(f"scikit-learn {_version('scikit-learn')}: {test_module}")
    print(
        f"sknormnet {_version('sknormnet')}, Keras {_version('keras')}, "
        f"KERAS_BACKEND={args.backend}"
    )

    with tempfile.TemporaryDirectory(prefix="sknormnet-sklearn-mlp-") as tmp:
        workdir = Path(tmp)
        try:
            prepare(workdir, test_module)
        except (RuntimeError, SyntaxError) as error:
            print(f"error: cannot rewrite {test_module}: {error}", file=sys.stderr)
            return 2
        xml = workdir / "junit.xml"
        start = time.perf_counter()
        returncode, log = run_pytest(workdir, args.backend, args.keyword, xml)
        elapsed = time.perf_counter() - start
        if returncode == 5 and args.keyword:
            print(f"\nno test matches -k {args.keyword!r}")
            return 0
        if returncode not in (0, 1) or not xml.is_file():
            tail = log.read_text(encoding="utf-8").splitlines()[-60:]
            print("\n".join(tail), file=sys.stderr)
            print(
                f"error: pytest exited with status {returncode} "
                "(an internal error, a usage error or a collection error)",
                file=sys.stderr,
            )
            return returncode or 3
        if args.junitxml is not None:
            shutil.copyfile(xml, args.junitxml)
        outcomes = read_junit(xml)
    print(f"\npytest ran in {elapsed / 60:.1f} min (KERAS_BACKEND={args.backend})")
    print_report(outcomes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
