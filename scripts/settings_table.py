"""Print the README's settings table from the Settings model (so the docs match the code).

Usage: .venv/bin/python scripts/settings_table.py [--update README.md]
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic_core import PydanticUndefined

from assistant.config import SAMPLE_SITE, Settings


def _default(field) -> str:  # noqa: ANN001
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if value is None:
        return "unset"
    text = str(value).replace(str(SAMPLE_SITE), "data/sample-site")
    return f"`{text}`" if text else '`""`'


START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def table() -> str:
    """The settings as a Markdown table."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `KMR_{name.upper()}` | {_default(field)} | {description} |")
    return "\n".join(lines)


def embed(readme: str) -> str:
    """The README text with the table between the markers replaced by the current one."""
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{table()}\n{END}{tail}"


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--update":
        path = Path(sys.argv[2])
        path.write_text(embed(path.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(table())


if __name__ == "__main__":
    main()
