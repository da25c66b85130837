"""Sphinx helpers for the sknormnet docs.

``.. layer-diagram::`` prints the layers a ``NormNetRegressor`` builds, as
``describe_layers()`` returns them at build time, so the diagrams in the user
guide cannot drift from the code (``tests/test_layers.py`` checks the same
text against the Keras model)::

    .. layer-diagram::
       :batchnorm: before_dense
       :hidden: 64, 32
       :dropout: 0.3
       :features: 8
"""

from __future__ import annotations

import re

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.replace(",", " ").split())


def _literal(value) -> str:
    """Python source for a parameter value, strings in double quotes."""
    return f'"{value}"' if isinstance(value, str) else repr(value)


class LayerDiagram(SphinxDirective):
    """A literal block: the estimator call and the layer list it prints."""

    has_content = False
    option_spec = {
        "batchnorm": directives.unchanged,
        "hidden": directives.unchanged,
        "dropout": directives.unchanged,
        "activation": directives.unchanged,
        "features": directives.positive_int,
    }

    def run(self) -> list[nodes.Node]:
        from sknormnet import NormNetRegressor

        batchnorm = self.options.get("batchnorm", "None")
        batchnorm = None if batchnorm == "None" else batchnorm
        params = {
            "hidden_layer_sizes": _sizes(self.options.get("hidden", "64, 32")),
            "dropout_rate": float(self.options.get("dropout", "0.3")),
            "batchnorm": batchnorm,
        }
        if "activation" in self.options:
            params["activation"] = self.options["activation"]
        n_features = self.options.get("features", 8)
        layers = NormNetRegressor(**params).describe_layers(n_features=n_features)

        args = [f"{key}={_literal(value)}" for key, value in params.items()]
        call = f">>> reg = NormNetRegressor({', '.join(args)})"
        if len(call) > 79:
            call = "\n".join(
                [
                    ">>> reg = NormNetRegressor(",
                    *(f"...     {a}," for a in args),
                    "... )",
                ]
            )
        text = (
            f"{call}\n>>> print(reg.describe_layers(n_features={n_features}))\n{layers}"
        )
        block = nodes.literal_block(text, text)
        block["language"] = "pycon"
        return [block]


def skip_foreign_members(app, what, name, obj, skip, options):
    """Document only the members sknormnet defines.

    The estimators also inherit scikit-learn's ``get_params``, ``set_params``,
    ``score`` and metadata-routing methods, whose docstrings point into
    scikit-learn's own documentation; the API page names them instead.
    """
    if what != "class":
        return None
    module = getattr(obj, "__module__", None) or ""
    if module and not module.startswith("sknormnet"):
        return True
    return None


# "of shape (n_samples, n_outputs_)": in reST a bare word ending in "_" is a
# link to a target of that name. Shapes that name fitted attributes get
# literal markup instead (scikit-learn writes them as `n_features_in_`).
_ATTRIBUTE_IN_SHAPE = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?=[,)])")


def quote_attributes_in_shapes(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        if "shape (" in line:
            lines[i] = _ATTRIBUTE_IN_SHAPE.sub(r"``\1``", line)


def setup(app):
    app.connect("autodoc-process-docstring", quote_attributes_in_shapes)
    app.add_directive("layer-diagram", LayerDiagram)
    app.connect("autodoc-skip-member", skip_foreign_members)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
