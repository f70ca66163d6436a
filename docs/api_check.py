"""Check that ``api.rst`` lists every public object of :mod:`sklearn_ltdd`.

The public objects are the names in ``__all__`` of the package and of each
subpackage. A name counts as listed when it appears in an ``autosummary``
table (or a ``py:data`` directive) under the ``currentmodule`` that exports
it, or, for a name the top-level package re-exports, when the same object is
listed under a subpackage. ``conf.py`` turns every missing name into a build
warning, so ``make html SPHINXOPTS=-W`` fails until the page is updated.

Run ``python docs/api_check.py`` to print missing names.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

SUBPACKAGES = (
    "nets",
    "distillation",
    "selection",
    "grouping",
    "two_stage",
    "datasets",
    "metrics",
    "augmentation",
    "sampling",
    "utils",
)

_DIRECTIVE = re.compile(r"^\.\. (?:py:)?(currentmodule|autosummary|data)::\s*(\S*)")


def documented_names(text: str) -> set[str]:
    """Fully qualified names listed by autosummary tables and data directives.

    Examples
    --------
    >>> rst = '''
    ... .. currentmodule:: pkg.sub
    ...
    ... .. autosummary::
    ...    :toctree: generated/
    ...
    ...    Foo
    ...    bar
    ...
    ... .. py:data:: pkg.__version__
    ... '''
    >>> sorted(documented_names(rst))
    ['pkg.__version__', 'pkg.sub.Foo', 'pkg.sub.bar']
    """
    names, module, in_table = set(), "", False
    for line in text.splitlines():
        match = _DIRECTIVE.match(line)
        if match:
            kind, arg = match.groups()
            in_table = kind == "autosummary"
            if kind == "currentmodule":
                module = arg
            elif kind == "data":
                names.add(arg if "." in arg else f"{module}.{arg}")
            continue
        if not in_table:
            continue
        stripped = line.strip()
        if line and not line[0].isspace():
            in_table = False
        elif stripped and not stripped.startswith(":"):
            entry = stripped.split()[0]
            names.add(entry if entry.startswith("sklearn_ltdd.") else f"{module}.{entry}")
    return names


def public_names() -> dict[str, object]:
    """``{qualified name: object}`` for every name in an ``__all__``."""
    out = {}
    for modname in ("sklearn_ltdd", *(f"sklearn_ltdd.{s}" for s in SUBPACKAGES)):
        module = importlib.import_module(modname)
        for name in module.__all__:
            out[f"{modname}.{name}"] = getattr(module, name)
    return out


def missing_from_api_page(api_rst) -> list[str]:
    """Public names that ``api_rst`` does not document, sorted."""
    listed = documented_names(Path(api_rst).read_text(encoding="utf-8"))
    public = public_names()
    listed_objects = [public[name] for name in listed if name in public]
    missing = []
    for name, obj in public.items():
        if name in listed:
            continue
        top_level = name.count(".") == 1
        if top_level and any(obj is other for other in listed_objects):
            continue
        missing.append(name)
    return sorted(missing)


if __name__ == "__main__":
    missing = missing_from_api_page(Path(__file__).with_name("api.rst"))
    print("\n".join(missing) or "api.rst lists every public object.")
    sys.exit(1 if missing else 0)
