"""Print the README's settings table from the Settings model (so the docs match the code).

Usage: .venv/bin/python scripts/settings_table.py
"""

from __future__ import annotations

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


def main() -> None:
    print("| variable | default | meaning |")
    print("|---|---|---|")
    for name, field in Settings.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        print(f"| `KMR_{name.upper()}` | {_default(field)} | {description} |")


if __name__ == "__main__":
    main()
