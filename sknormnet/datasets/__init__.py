"""Real regression data sets bundled with sknormnet.

Three small tabular data sets ship inside the package, so examples, docs and
benchmarks run offline:

- :func:`load_red_wine`: red wine quality from 11 physicochemical features.
- :func:`load_concrete`: concrete compressive strength from its mix and age.
- :func:`load_spotify`: Spotify track popularity from genre and audio
  features (pandas only, as the table has text columns).

Each loader follows scikit-learn's conventions (``return_X_y`` and
``as_frame`` keywords, a :class:`~sklearn.utils.Bunch` with ``data``,
``target``, ``frame``, ``feature_names``, ``target_names`` and ``DESCR``).
"""

from ._loaders import load_concrete, load_red_wine, load_spotify

__all__ = ["load_concrete", "load_red_wine", "load_spotify"]
