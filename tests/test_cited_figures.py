"""Every measured figure in the README and the docs agrees with the result file it cites.

Pure Python (no torch, no ``sklearn_ltdd``): the documents are split into paragraphs
(blank-line separated); a paragraph that names committed result files
(``benchmarks/results/...``, also ``results/...`` in ``benchmarks/README.md`` and a bare
``cpu.md``; glob patterns such as ``search_cpu_heads_seed*`` expanded) is checked, and so
are the paragraphs, list items and tables after it in the same section, against the last
files cited there (a heading ends a section); the items of a list count as paragraphs of
their own. Each decimal figure of such a paragraph
(``47.0``, ``0.048``, ``-6.1``, ``1.26x``, ``7.6e-5``) must occur as a number in one of the
cited files: the same number, or a number the file prints with more decimals that rounds
to it (the docs round ``1.8868`` s to ``1.89`` s).
Integers (counts, years, ``13 s``), code (fenced, literal and doctest blocks, inline
code), URLs, version numbers, arXiv ids and section numbers are not checked.
"""

from __future__ import annotations

import re
import sys
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
# Files outside results/ that hold published figures a paragraph may cite.
REFERENCE_FILES = {
    ROOT / "benchmarks" / "paper_tables.json",
    ROOT / "benchmarks" / "published_standard.json",
}

# (document, figure) -> why the figure is not in the file the paragraph cites. Keep short.
ALLOWED: dict[tuple[str, str], str] = {}


def documents() -> list[str]:
    docs = [ROOT / "README.md", ROOT / "benchmarks" / "README.md"]
    for pattern in ("**/*.rst", "**/*.md"):
        for path in sorted((ROOT / "docs").glob(pattern)):
            parts = path.relative_to(ROOT / "docs").parts
            if parts[0] not in ("_build", "generated"):
                docs.append(path)
    return [str(p.relative_to(ROOT)) for p in docs if p.is_file()]


# --- the documents' text --------------------------------------------------------------------

CODE_DIRECTIVES = (
    "code-block",
    "code",
    "sourcecode",
    "literalinclude",
    "doctest",
    "testcode",
    "testoutput",
    "math",
    "highlight",
)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _blank_code(lines: list[str], rst: bool) -> list[str]:
    """Lines with every code line made blank (fenced, literal, directive, doctest blocks)."""
    out = list(lines)
    i = 0
    while i < len(out):
        line = out[i]
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):  # a fenced block (Markdown, or rst by mistake)
            fence = stripped[:3]
            out[i] = ""
            i += 1
            while i < len(out) and not out[i].strip().startswith(fence):
                out[i] = ""
                i += 1
            if i < len(out):
                out[i] = ""
            i += 1
            continue
        if rst and stripped.startswith(">>>"):  # a doctest block runs to the next blank line
            while i < len(out) and out[i].strip():
                out[i] = ""
                i += 1
            continue
        directive = re.match(r"\.\.\s+([\w-]+)::", stripped)
        literal = rst and stripped.endswith("::") and not stripped.startswith("..")
        if rst and ((directive and directive.group(1) in CODE_DIRECTIVES) or literal):
            base = _indent(line)
            if directive:
                out[i] = ""
            i += 1
            while i < len(out) and (not out[i].strip() or _indent(out[i]) > base):
                out[i] = ""
                i += 1
            continue
        i += 1
    return out


TABLE_START = re.compile(r"^\s*(\|.*\||=+(\s+=+)+|\+[-=+]+\+|\*\s+-\s|\.\.\s+(list|csv)-table::)")
LIST_ITEM = re.compile(r"^(\s*)([*+-]|\d+[.)]|#\.)\s")


def is_table(paragraph: str) -> bool:
    return bool(TABLE_START.match(paragraph.splitlines()[0]))


def _items(start: int, lines: list[str]) -> list[tuple[int, str]]:
    """A block split into its top-level list items (the lead-in, if any, on its own)."""
    if is_table(lines[0]):
        return [(start, "\n".join(lines))]
    bullets = [i for i, line in enumerate(lines) if LIST_ITEM.match(line)]
    if not bullets:
        return [(start, "\n".join(lines))]
    base = min(_indent(lines[i]) for i in bullets)
    cuts = [0] + [i for i in bullets if i and _indent(lines[i]) == base] + [len(lines)]
    return [(start + a, "\n".join(lines[a:b])) for a, b in zip(cuts, cuts[1:]) if a < b]


def paragraphs(text: str, rst: bool) -> list[tuple[int, str]]:
    """(first line number, text) of each paragraph, code removed.

    Paragraphs are separated by blank lines; the items of a list count as paragraphs of
    their own, with or without blank lines between them.
    """
    text = re.sub(r"<!--.*?-->", lambda m: "\n" * m.group().count("\n"), text, flags=re.S)
    lines = _blank_code(text.splitlines(), rst)
    found, start, current = [], None, []
    for number, line in enumerate(lines + [""], start=1):
        if line.strip():
            if start is None:
                start = number
            current.append(line)
        elif current:
            found += _items(start, current)
            start, current = None, []
    return found


# --- the files a paragraph cites --------------------------------------------------------------

RESULTS_PATH = re.compile(r"(?<![\w./-])((?:benchmarks/)?results/[\w.*/-]*[\w*])(?![\w.*/<-])")
BARE_NAME = re.compile(r"(?<![\w./<>*-])([\w*-][\w.*-]*\.(?:md|json))(?![\w/])")


def cited_files(paragraph: str, doc: str) -> tuple[list[Path], list[str]]:
    """Result files the paragraph names (globs expanded), and result paths matching none.

    A path under ``results/`` is read from the repository root, from the document's folder
    and from ``benchmarks/``; a bare file name (``cpu.md``) from ``benchmarks/results/``.
    """
    files, missing = [], []
    doc_dir = (ROOT / doc).parent
    names = RESULTS_PATH.findall(paragraph) + BARE_NAME.findall(paragraph)
    for name in dict.fromkeys(names):
        if "/" in name:
            candidates = [ROOT / name, doc_dir / name, ROOT / "benchmarks" / name]
        else:
            candidates = [RESULTS / name, ROOT / "benchmarks" / name]
        found = set()
        for candidate in candidates:
            if candidate.parent.is_dir():
                found |= {p.resolve() for p in candidate.parent.glob(candidate.name)}
        found = {
            p
            for p in found
            if p.is_file() and (p.is_relative_to(RESULTS.resolve()) or p in REFERENCE_FILES)
        }
        if found:
            files += [p for p in sorted(found) if p not in files]
        elif "/" in name:
            missing.append(name)
    return files, missing


# --- the figures ------------------------------------------------------------------------------

NUMBER = r"(?<![\w.])([-+\u2212]?)(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![\w.]*\d)"
DECIMAL = re.compile(r"(?<![\w.,])([-+\u2212]?)(\d+\.\d+(?:[eE][-+]?\d+)?)(?![\w.]*\d)")
VERSION_BEFORE = re.compile(
    r"(?i)\b(python|py|torch|pytorch|scikit-learn|sklearn|skorch|numpy|scipy|cuda|sphinx"
    r"|triton|dask|distributed|imbalanced-learn|datasets|version|release|v)\s*[:=<>~]*\s*$"
)
SECTION = re.compile(
    r"(?i)\b(sections?|§|eqs?\.|equations?|chapters?|algorithms?)\s+\d+(?:\.\d+)*"
    r"(?:\s*(?:,|and|or|to|-)\s*\d+(?:\.\d+)*)*"
)


def prose(paragraph: str) -> str:
    """The paragraph without inline code, roles, URLs and section numbers."""
    text = re.sub(r"``.*?``", " ", paragraph, flags=re.S)  # rst inline literals
    text = re.sub(r":[\w:-]+:`[^`]*`", " ", text)  # rst roles
    text = re.sub(r"`[^`]*`", " ", text)  # Markdown inline code
    text = re.sub(r"<?https?://[^\s)>]+>?", " ", text)  # URLs
    text = re.sub(r"\barXiv:?\s*\d{4}\.\d{4,5}(v\d+)?", " ", text, flags=re.I)
    return SECTION.sub(" ", text)


def figures(paragraph: str) -> list[str]:
    """The measured-looking decimal figures of a paragraph, signs kept ('-6.1', '0.048')."""
    text = prose(paragraph)
    found = []
    for match in DECIMAL.finditer(text):
        sign, number = match.groups()
        if re.fullmatch(r"\d{4}\.\d{4,5}", number):  # an arXiv id
            continue
        if VERSION_BEFORE.search(text[: match.start()]):
            continue
        found.append(("-" if sign == "\u2212" else sign) + number)
    return found


_NUMBERS: dict[Path, set[tuple[str, str]]] = {}


def file_numbers(path: Path) -> set[tuple[str, str]]:
    """(sign, number) of every number in the file's text."""
    if path not in _NUMBERS:
        text = path.read_text(encoding="utf-8", errors="replace")
        _NUMBERS[path] = {("-" if s == "\u2212" else s, n) for s, n in re.findall(NUMBER, text)}
    return _NUMBERS[path]


def _decimals(number: str) -> int:
    mantissa = re.split(r"[eE]", number)[0]
    return len(mantissa.split(".")[1]) if "." in mantissa else 0


def matches(figure: str, numbers: set[tuple[str, str]]) -> bool:
    """The file holds the figure: equal, or printed with more decimals that round to it.

    A '+' or unsigned figure matches '+' or unsigned numbers; a '-' one only '-' numbers.
    """
    sign = figure[0] if figure[0] in "+-" else ""
    magnitude = figure.lstrip("+-")
    value, places = Decimal(magnitude), _decimals(magnitude)
    exponent = "e" in magnitude.lower()
    quantum = Decimal(1).scaleb(-places)
    for file_sign, number in numbers:
        if (sign == "-") != (file_sign == "-"):
            continue
        if exponent or "e" in number.lower():
            if Decimal(number) == value:
                return True
            continue
        if _decimals(number) < places:
            continue
        file_value = Decimal(number)
        if file_value == value or any(
            file_value.quantize(quantum, rounding=r) == value
            for r in (ROUND_HALF_UP, ROUND_HALF_EVEN)
        ):
            return True
    return False


# --- the check --------------------------------------------------------------------------------


HEADING = re.compile(r"^(#{1,6} |[=\-~^\"]{3,}\s*$)", re.M)


def mismatches(doc: str, allowed: dict = ALLOWED) -> list[str]:
    """One line per figure of ``doc`` that none of its paragraph's cited files holds."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    problems = []
    # The last citing paragraph's files, inherited by the paragraphs, lists and tables
    # after it in the same section (a heading ends it).
    cited: list[Path] = []
    for line, paragraph in paragraphs(text, rst=doc.endswith(".rst")):
        if HEADING.search(paragraph) and not is_table(paragraph):
            cited = []
        files, missing = cited_files(paragraph, doc)
        files = files or cited
        cited = files
        figs = figures(paragraph)
        if not figs:
            continue
        start = " ".join(paragraph.split())[:80]
        for name in missing:
            problems.append(f"{doc}:{line}: [{start}] cites {name}, which matches no file")
        if not files:
            continue
        numbers = set().union(*(file_numbers(f) for f in files))
        names = ", ".join(str(f.relative_to(ROOT)) for f in files)
        for fig in dict.fromkeys(figs):
            if (doc, fig) in allowed or matches(fig, numbers):
                continue
            problems.append(f"{doc}:{line}: [{start}] figure {fig} not in {names}")
    return problems


@pytest.mark.parametrize("doc", documents())
def test_cited_figures_match_the_result_files(doc):
    problems = mismatches(doc)
    assert not problems, f"{len(problems)} figure(s) not in the cited files:\n" + "\n".join(
        problems
    )


def test_allow_list_entries_are_still_needed():
    for doc, figure in ALLOWED:
        assert any(f"figure {figure} " in p for p in mismatches(doc, allowed={})), (doc, figure)


def test_the_checker_itself(tmp_path):
    numbers = {("", "1.8868"), ("", "40.9"), ("-", "6.1"), ("", "7.6e-05"), ("+", "2.2")}
    assert matches("1.89", numbers) and matches("1.9", numbers) and matches("40.9", numbers)
    assert matches("-6.1", numbers) and matches("7.6e-5", numbers) and matches("+2.2", numbers)
    assert not matches("40.90", numbers) and not matches("6.1", numbers)
    assert not matches("-2.2", numbers) and not matches("1.88", numbers)
    text = (
        "Python 3.10, torch 2.14.1, sections 3.4 and 3.5, arXiv 2511.17914, ``0.5``,\n"
        "`1.5` and https://x.org/1.25 are skipped; 47.0 %, -6.1, +1.3 and 2.40x are not."
    )
    assert figures(text) == ["47.0", "-6.1", "+1.3", "2.40"]
    rst = (
        "Intro::\n\n   3.5 in a literal block\n\n>>> 1.5\n2.5\n\n.. code-block:: bash\n\n   x 4.5\n"
    )
    assert [figures(p) for _, p in paragraphs(rst, rst=True)] == [[]]


def test_a_wrong_figure_is_reported(tmp_path, monkeypatch):
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    (results / "run_seed0.md").write_text("| Original | 30.4 ± 0.1 | 1.8868 |\n")
    (tmp_path / "README.md").write_text(
        "Measured (`benchmarks/results/run_seed*.md`): 30.4 ± 0.1 %, 1.89 s, but 31.4 %.\n\n"
        "| row | acc |\n| --- | --- |\n| Original | 30.5 |\n\nThe same section: 77.7 %.\n\n"
        "## Another section\n\nUncited: 99.9 %.\n"
    )
    module = sys.modules[__name__]
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(module, "RESULTS", results)
    problems = mismatches("README.md")
    assert [p.split("figure ")[1].split(" ")[0] for p in problems] == ["31.4", "30.5", "77.7"]
