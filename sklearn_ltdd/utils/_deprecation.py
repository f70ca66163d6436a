"""Renamed parameters: the old name kept for two releases, with a FutureWarning."""

from __future__ import annotations

import warnings

#: The default of a parameter's old name: "not given".
DEPRECATED = "deprecated"

#: The release that renamed the parameters below, and the one that removes the old names.
RENAMED_IN, REMOVED_IN = "0.2", "0.4"


def _given(value) -> bool:
    return not (isinstance(value, str) and value == DEPRECATED)


class RenamedParamsMixin:
    """One name per concept across the package, as scikit-learn renames: an estimator
    lists ``_renamed_params`` (new name -> old name); the old name stays a parameter
    (default ``"deprecated"``) that, when given, warns once per fit and is used."""

    _renamed_params: dict = {}

    def _param(self, new):
        """The value of parameter ``new``, or of its old name when that was given."""
        old = self._renamed_params.get(new)
        value = getattr(self, old, DEPRECATED) if old else DEPRECATED
        return value if _given(value) else getattr(self, new)

    def _warn_renamed(self):
        for new, old in self._renamed_params.items():
            value = getattr(self, old, DEPRECATED)
            if _given(value):
                warnings.warn(
                    f"{type(self).__name__}: {old} was renamed {new} in {RENAMED_IN} and will "
                    f"be removed in {REMOVED_IN}; use {new}={value!r}.",
                    FutureWarning,
                    stacklevel=3,
                )
