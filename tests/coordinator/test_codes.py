"""The report-code registry: one spelling, one exit code per condition, documented as it is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from haflow.coordinator.codes import TABLES, Code, generated_block, main
from haflow.coordinator.exitcodes import ExitCode
from haflow.coordinator.reports import HaflowError, Report, error

pytestmark = pytest.mark.tier0

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [p for d in ("coordinator", "lab", "agents", "encoding", "bench")
           for p in (ROOT / d).rglob("*.py")]


@pytest.mark.parametrize(("name", "marker"), list(TABLES))
def test_the_documented_tables_are_the_registry(name: str, marker: str) -> None:
    text = (ROOT / name).read_text()
    assert generated_block(text, marker) == TABLES[name, marker](), (
        f"{name} is out of date: run python -m haflow.coordinator.codes --update .")


def test_update_rewrites_a_stale_table(tmp_path: Path) -> None:
    for name, _ in TABLES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text((ROOT / name).read_text())
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text().replace("| `CIB_CONFLICT` |", "| `OLD` |"))
    assert main(["--update", str(tmp_path)]) == 0
    assert readme.read_text() == (ROOT / "README.md").read_text()
    assert main(["--bogus"]) == ExitCode.USAGE


def test_codes_are_upper_snake_and_their_own_value() -> None:
    for code in Code:
        assert re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*", code), code
        assert code.value == code.name and code.meaning


def test_the_exit_code_comes_from_the_code_not_the_raise_site() -> None:
    assert error(Code.CIB_CONFLICT, "x").exit_code == ExitCode.CONFLICT
    assert error(Code.NO_QUORUM, "x").exit_code == ExitCode.NO_QUORUM
    first = HaflowError(Report(Code.FILE_NOT_FOUND, "a"), Report(Code.CYCLE, "b"))
    assert first.exit_code == ExitCode.NOT_FOUND


def test_a_report_read_back_from_json_gets_its_code() -> None:
    back = Report(**{**Report(Code.CYCLE, "x").to_dict(), "code": "CYCLE"})  # type: ignore[arg-type]
    assert back.code is Code.CYCLE
    with pytest.raises(KeyError):
        Report("no-such-code", "x")  # type: ignore[arg-type]


def test_every_code_is_raised_somewhere_and_none_by_literal() -> None:
    text = "\n".join(p.read_text() for p in SOURCES)
    unused = [c for c in Code if f"Code.{c.name}" not in text]
    assert not unused, f"codes nothing raises: {unused}"
    literal = re.compile(r"""(?<![.\w])(error|Report)\(\s*(code=)?["']|\.code\s*[!=]=\s*["']""")
    found = [f"{p.relative_to(ROOT)}:{n}" for p in SOURCES
             for n, line in enumerate(p.read_text().splitlines(), 1) if literal.search(line)]
    assert not found, f"codes spelled as literals: {found}"
