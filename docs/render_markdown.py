"""The Markdown report a benchmark writes beside its JSON file, as reStructuredText.

The benchmark scripts whose JSON files say ``"kind"`` (``compare_official``,
``fit_speed``, ``compare_demo``, ``sm_sweep``) write a Markdown report of
headings, bullet lines, pipe tables and paragraphs; :func:`markdown_to_rst`
turns exactly that subset into reStructuredText for the results page.
"""

from __future__ import annotations

import re

_CODE = re.compile(r"`([^`]+)`")


def _inline(text: str) -> str:
    """Markdown inline code to reStructuredText literals; other markup escaped."""
    parts = _CODE.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"``{part}``")
        else:
            out.append(re.sub(r"([*_|\\\\])", r"\\\1", part))
    return "".join(out)


def markdown_to_rst(markdown: str, heading_char: str = "~") -> str:
    """reStructuredText of a report's Markdown (headings, bullets, pipe tables, text).

    Examples
    --------
    >>> print(markdown_to_rst("# Title\\n\\n- a `x`\\n\\n| a | b |\\n|---|---:|\\n| 1 | 2 |\\n"))
    Title
    ~~~~~
    <BLANKLINE>
    - a ``x``
    <BLANKLINE>
    .. list-table::
       :header-rows: 1
    <BLANKLINE>
       * - a
         - b
       * - 1
         - 2
    <BLANKLINE>
    """
    out, table = [], []

    def flush():
        if not table:
            return
        out.extend([".. list-table::", "   :header-rows: 1", ""])
        for row in table:
            for i, cell in enumerate(row):
                out.append(f"   {'*' if i == 0 else ' '} - {_inline(cell) or '-'}")
        out.append("")
        table.clear()

    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("|"):
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            if not all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
                table.append(cells)
            continue
        flush()
        if stripped.startswith("#"):
            title = _inline(stripped.lstrip("#").strip())
            out.extend([title, heading_char * max(len(title), 3), ""])
        elif stripped:
            out.append(_inline(line.rstrip()))
        elif out and out[-1] != "":
            out.append("")
    flush()
    return "\n".join(out).rstrip() + "\n"
