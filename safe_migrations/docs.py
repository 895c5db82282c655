"""Rule documentation generated from the rule docstrings (docs/rules/, --explain, --list-rules)."""

from __future__ import annotations

import inspect
from pathlib import Path

from .rules import Rule, all_rules

HEADER = "<!-- Generated from the rule docstrings by `python -m safe_migrations.docs`: do not edit. -->\n"


def explain(rule: type[Rule]) -> str:
    """The rule's documentation page as Markdown."""
    doc = inspect.cleandoc(rule.__doc__ or "")
    summary, _, body = doc.partition("\n")
    vendors = ", ".join(sorted(rule.vendors))
    return (
        f"# {rule.code} {rule.name}\n\n"
        f"{summary.strip()}\n\n"
        f"Default severity: **{rule.severity.label}**. Backends: {vendors}.\n\n"
        f"{body.strip()}\n"
    )


def index() -> str:
    lines = ["# Rules", "", "| code | name | severity | what it flags |", "|---|---|---|---|"]
    for rule in all_rules():
        lines.append(
            f"| {rule.code} | [{rule.name}]({rule.name}.md) | {rule.severity.label} | {rule.summary()} |"
        )
    return "\n".join(lines) + "\n"


def pages() -> dict[str, str]:
    out = {"index.md": HEADER + index()}
    for rule in all_rules():
        out[f"{rule.name}.md"] = HEADER + explain(rule)
    return out


def write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in pages().items():
        path = folder / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    for stale in folder.glob("*.md"):
        if stale.name not in pages():
            stale.unlink()
            written.append(stale)
    return written


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m safe_migrations.docs",
        description="Write docs/rules/<name>.md and index.md from the rules' docstrings.",
    )
    parser.add_argument(
        "folder",
        nargs="?",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "docs" / "rules",
        help="output folder (default: docs/rules of this checkout)",
    )
    args = parser.parse_args(argv)
    for path in write(args.folder):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
