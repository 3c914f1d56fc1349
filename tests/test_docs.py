"""The README cannot drift from the code: every setting and every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

from assistant.cli import app
from assistant.config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_in_the_readme() -> None:
    missing = [
        f"KMR_{name.upper()}"
        for name in Settings.model_fields
        if f"`KMR_{name.upper()}`" not in README
    ]
    assert not missing, f"settings missing from README.md: {missing}"


def test_every_documented_setting_exists() -> None:
    documented = set(re.findall(r"`KMR_([A-Z0-9_]+)`", README))
    unknown = {d for d in documented if d.lower() not in Settings.model_fields}
    assert not unknown, f"README.md documents settings that do not exist: {unknown}"


def test_every_cli_command_is_documented() -> None:
    commands = [c.name or c.callback.__name__ for c in app.registered_commands]
    missing = [c for c in commands if f"kmr {c}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def test_every_setting_has_a_description() -> None:
    assert all(field.description for field in Settings.model_fields.values())


def test_readme_gives_the_two_commands_and_ci_calls_the_test_one() -> None:
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert "scripts/run" in README and "scripts/test" in README
    assert "scripts/test" in ci


def test_readme_settings_table_is_the_generated_one() -> None:
    from support.scripts import load_script

    assert load_script("settings_table").embed(README) == README, (
        "run: python scripts/settings_table.py --update README.md"
    )
