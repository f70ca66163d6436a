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


class ModuleKwargsMixin:
    """The network's constructor arguments as ``module__<name>=value``, as skorch's
    :class:`~sklearn_ltdd.nets.ConvNetClassifier` takes them: one name for the network's
    size across the package (``module__width=32`` everywhere). They are parameters like
    any other (``get_params``, ``set_params``, ``clone``, a grid search over
    ``gradientmatchingdistiller__module__width``). The older ``module_params`` dict
    still works, with a FutureWarning, for two releases."""

    _MODULE = "module__"

    def _set_module_kwargs(self, kwargs):
        # Stored as given and checked in fit (scikit-learn's convention: __init__ and
        # set_params never raise); a clone keeps a misspelt name, so fit still names it.
        self._kwarg_names = tuple(sorted(kwargs))
        for key, value in kwargs.items():
            setattr(self, key, value)

    def _module_attribute_names(self):
        return sorted(k for k in vars(self) if k.startswith(self._MODULE))

    def _unexpected_kwargs(self):
        return [k for k in getattr(self, "_kwarg_names", ()) if not k.startswith(self._MODULE)]

    def _check_module_kwargs(self):
        """Raise for keyword arguments that are neither parameters nor ``module__<name>``."""
        unknown = self._unexpected_kwargs()
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s) {unknown}; the "
                f"network's arguments are given as module__<name>=value (e.g. "
                f"module__width=32)."
            )

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        names = [*self._module_attribute_names(), *self._unexpected_kwargs()]
        params.update({k: getattr(self, k) for k in names})
        return params

    def set_params(self, **params):
        own = set(self._unexpected_kwargs())
        module = {k: v for k, v in params.items() if k.startswith(self._MODULE) or k in own}
        for key, value in module.items():
            setattr(self, key, value)
        rest = {k: v for k, v in params.items() if k not in module}
        return super().set_params(**rest) if rest else self

    def _module_kwargs(self) -> dict:
        """The network's constructor arguments: ``module__<name>`` over ``module_params``."""
        given = getattr(self, "module_params", None) or {}
        own = {k[len(self._MODULE) :]: getattr(self, k) for k in self._module_attribute_names()}
        return {**given, **own}

    def _warn_module_params(self):
        if getattr(self, "module_params", None) is not None:
            hint = ", ".join(f"module__{k}={v!r}" for k, v in self.module_params.items())
            warnings.warn(
                f"{type(self).__name__}: module_params is deprecated since {RENAMED_IN} and "
                f"will be removed in {REMOVED_IN}; pass {hint or 'module__<name>=value'}, as "
                f"ConvNetClassifier takes them.",
                FutureWarning,
                stacklevel=3,
            )
