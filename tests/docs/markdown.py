"""The examples of README.md and docs/*.md, as the Markdown marks them.

A fenced block runs when the line before it is an HTML comment (invisible on GitHub and in the site):

- `<!-- run -->` before a `sh` or `python` block: run against a served emulator, in page order; the Python
  blocks of one page share their names, so a later block may use what an earlier one defined.
- `<!-- scenario-file -->` before a `yaml` block: a complete scenario file, loaded by that server at start
  (`--scenario-dir`), so that the page's runnable blocks can fire it by its name.
- `<!-- run: pytest -->` before a `python` block: a test file using the pytest plugin's fixtures, run in an
  inner pytest session by tests/plugin/test_pytest_plugin.py (the plugin page's complete example and the
  README's short one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARK = re.compile(r"^<!--\s*(run|run: pytest|scenario-file)\s*-->\s*$")
FENCE = re.compile(r"^```(\w*)")
KINDS = {"run": ("sh", "python"), "run: pytest": ("python",), "scenario-file": ("yaml",)}


@dataclass(frozen=True)
class Block:
    page: str  # path relative to the repository root
    line: int  # line of the opening fence (1-based)
    mark: str  # run | run: pytest | scenario-file
    lang: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """The marked blocks of one page; a mark not followed by a fence of a kind it allows is an error."""
    lines = path.read_text(encoding="utf-8").split("\n")
    found, i = [], 0
    page = str(path.relative_to(ROOT))
    while i < len(lines):
        mark = MARK.match(lines[i])
        if not mark:
            i += 1
            continue
        fence = FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
        if not fence or fence.group(1) not in KINDS[mark.group(1)]:
            raise ValueError(f"{page}:{i + 1}: <!-- {mark.group(1)} --> must precede a fenced block of "
                             f"{' or '.join(KINDS[mark.group(1)])}")
        end = lines.index("```", i + 2)
        found.append(Block(page, i + 2, mark.group(1), fence.group(1), "\n".join(lines[i + 2:end]) + "\n"))
        i = end + 1
    return found


def all_blocks() -> list[Block]:
    return [b for path in pages() for b in blocks(path)]
