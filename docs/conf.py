"""Sphinx configuration of the sknormnet documentation.

Build with ``python -m sphinx -W -b html docs docs/_build/html`` after
``pip install -e ".[docs]"``.

The example gallery is rendered by sphinx-gallery from ``examples/``.
``SKNORMNET_DOCS_GALLERY`` decides whether the examples run during the build:

- ``off`` (the default, used by CI): the pages show the code and the text but
  no figures or output. CI runs every example separately
  (``tests/test_examples.py``), so executing them here as well would only
  double the build time.
- ``quick``: run each example with ``SKNORMNET_QUICK=1`` (a short smoke
  version, about a minute in all on two cores). The text of the examples
  describes the full runs, so the figures will not always match it.
- ``full``: run the examples as they are published (a few minutes).
"""

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import sknormnet  # noqa: E402

project = "sknormnet"
author = "The sknormnet developers"
copyright = "The sknormnet developers"
release = sknormnet.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sknormnet_docs",
]
templates_path = ["_templates"]
exclude_patterns = ["_build"]
root_doc = "index"

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

html_theme = "pydata_sphinx_theme"
html_title = f"sknormnet {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path = []

# --- the example gallery ----------------------------------------------------
GALLERY = os.environ.get("SKNORMNET_DOCS_GALLERY", "off")
if GALLERY not in {"off", "quick", "full"}:
    raise ValueError(
        f"SKNORMNET_DOCS_GALLERY must be 'off', 'quick' or 'full'; got {GALLERY!r}"
    )
if GALLERY == "quick":
    os.environ["SKNORMNET_QUICK"] = "1"
if GALLERY != "off":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # the examples also save their figures as PNG; keep those out of the tree
    os.environ["SKNORMNET_EXAMPLES_OUT"] = tempfile.mkdtemp(prefix="sknormnet-docs-")

sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "within_subsection_order": "sphinx_gallery.sorting.FileNameSortKey",
    "plot_gallery": "True" if GALLERY != "off" else "False",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "capture_repr": (),
    "min_reported_time": 1,
}
