"""Run the README's Python snippets as written (all but the CIFAR ones, which need data).

``python tests/readme_snippets.py`` needs only what the README's first command installs
(``pip install -e .``): ``.ci/run`` runs it in such an environment, before the test extra
is installed, so a snippet that imports a package the install leaves out fails CI.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def snippets() -> list:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    return [b for b in blocks if "load_cifar" not in b]


def run() -> dict:
    """Execute the snippets in one namespace (later ones reuse earlier ones' data)."""
    namespace = {}
    for block in snippets():
        exec(compile(block, str(README), "exec"), namespace)
    return namespace


if __name__ == "__main__":
    run()
    print(f"the README's {len(snippets())} Python snippets ran")
    sys.exit(0)
