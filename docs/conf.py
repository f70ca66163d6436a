"""Sphinx configuration of the sklearn-ltdd documentation.

The build is offline: no intersphinx, no remote images (MathJax, for the
formulas, is loaded by the browser when a page is viewed). Two things are
generated at build time:

* API stubs under ``generated/`` (autosummary; git-ignored);
* the results tables, ``generated/results_tables.inc``, from the JSON files
  in ``benchmarks/results/`` (see ``render_results.py``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(DOCS))  # render_results, api_check
sys.path.insert(0, str(REPO))  # the package, when it is not installed

import torch  # noqa: E402

import sklearn_ltdd  # noqa: E402

# The one example run at build time (Figure 1, by the plot directive) trains
# tiny networks: one thread avoids thread-pool overhead and, on a busy
# machine, competition with other processes for the cores.
torch.set_num_threads(1)

# -- project -----------------------------------------------------------------
project = "sklearn-ltdd"
author = "sklearn-ltdd developers"
copyright = "sklearn-ltdd developers"  # noqa: A001
release = sklearn_ltdd.__version__
version = ".".join(release.split(".")[:2])

# -- general -----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "matplotlib.sphinxext.plot_directive",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "README.md", "Thumbs.db", ".DS_Store"]
root_doc = "index"
default_role = "literal"
pygments_style = "sphinx"

# -- autodoc / autosummary / numpydoc ----------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- plots (matplotlib's plot directive, run at build time on the CPU) --------
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 90)]
plot_rcparams = {"figure.figsize": (7, 6)}

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-ltdd {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "install": [], "results": []}
html_show_sourcelink = False


# -- build-time generation -------------------------------------------------------
def _write_results_page(app):
    from render_results import write_results_page
    from sphinx.util import logging

    logger = logging.getLogger("sklearn_ltdd.results")
    # SKLEARN_LTDD_DOCS_RESULTS previews another folder of result files.
    results_dir = Path(os.environ.get("SKLEARN_LTDD_DOCS_RESULTS", REPO / "benchmarks" / "results"))
    target = DOCS / "generated" / "results_tables.inc"
    problems = write_results_page(results_dir, target)
    for problem in problems:
        logger.warning("results page: %s", problem)


def _check_api_coverage(app):
    """Warn about public objects missing from api.rst; drop stale stubs.

    A stub of an object no longer listed would otherwise stay in
    ``generated/`` and be reported as a page outside every toctree.
    """
    from api_check import documented_names, missing_from_api_page
    from sphinx.util import logging

    logger = logging.getLogger("sklearn_ltdd.api")
    api_rst = DOCS / "api.rst"
    for name in missing_from_api_page(api_rst):
        logger.warning("API reference: public object %s is not listed in api.rst", name)
    listed = documented_names(api_rst.read_text(encoding="utf-8"))
    for stub in (DOCS / "generated").glob("sklearn_ltdd.*.rst"):
        if stub.stem not in listed:
            stub.unlink()


def _skip_member(app, what, name, obj, skip, options):
    """Hide scikit-learn's generated ``set_*_request`` metadata-routing methods.

    Their docstrings link into scikit-learn's own documentation, which an
    offline build cannot resolve; they are documented there.
    """
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def _constant_docstring(app, what, name, obj, options, lines):
    """Give a re-exported constant the ``#:`` comment of its defining module.

    ``DC_LOOPS`` is documented where it is defined, in a private module;
    autodoc looks for the comment in the public subpackage and finds none.
    """
    # numpydoc leaves blank lines and a "processed by numpydoc" comment
    has_text = any(line.strip() not in ("", "..", "!! processed by numpydoc !!") for line in lines)
    if what != "data" or has_text or not name.startswith("sklearn_ltdd."):
        return
    import importlib
    import pkgutil

    from sphinx.pycode import ModuleAnalyzer

    package_name, attr = name.rsplit(".", 1)
    package = importlib.import_module(package_name)
    for info in pkgutil.iter_modules(getattr(package, "__path__", [])):
        module_name = f"{package_name}.{info.name}"
        module = importlib.import_module(module_name)
        if getattr(module, attr, None) is not obj:
            continue
        comment = ModuleAnalyzer.for_module(module_name).find_attr_docs().get(("", attr))
        if comment:
            lines[:0] = [*comment, ""]
            return


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("autodoc-process-docstring", _constant_docstring)
    app.connect("builder-inited", _write_results_page)
    app.connect("builder-inited", _check_api_coverage)
