"""Rendering markdown reports from the jinja2 templates in ``templates/reports`` (SPEC §14)."""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from .. import fmt
from ..atomic import atomic_write
from ..errors import BtkError


def templates_dir() -> Path:
    """``btk_core/templates`` in an installed wheel, the repository's ``templates/`` in a checkout."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / "reports").is_dir():
            return candidate
    raise BtkError(f"btk templates not found next to {package}")


def cell(value: Any) -> str:
    """A table cell: ``None`` -> ``N/A``, ``|`` escaped, newlines folded to spaces."""
    text = fmt.NA if value is None else str(value)
    return text.replace("|", "\\|").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A markdown table; one line per row."""
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def fixed(x: float | None, digits: int = 2, suffix: str = "") -> str:
    return fmt.NA if x is None else f"{x:.{digits}f}{suffix}"


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "reports")),
                             undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=False)
    env.globals.update(table=table, fixed=fixed, num=fmt.num, pct=fmt.pct, price=fmt.price, iso=fmt.iso,
                       minutes=fmt.minutes, NA=fmt.NA)
    return env


_BLANK_RUNS = re.compile(r"\n{3,}")


def render(template: str, **context: Any) -> str:
    """Render a report: blocks separated by exactly one blank line, no trailing newline."""
    text = _environment().get_template(template).render(**context)
    return _BLANK_RUNS.sub("\n\n", text).strip()


def dump(text: str, directory: str, file_name: str) -> str:
    """Write a report atomically as ``<directory>/<file_name>``; errors raise with the path."""
    path = Path(directory) / file_name
    try:
        atomic_write(path, text.encode("utf-8"))
    except OSError as exc:
        raise BtkError(f"cannot write report {path}: {exc}") from exc
    return str(path)
