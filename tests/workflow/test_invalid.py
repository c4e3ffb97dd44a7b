"""The validation corpus: each tests/workflow/invalid/NAME.yaml fails with exactly
the errors in NAME.expected, one per line: ``CODE LINE:COLUMN message fragment``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from haflow.coordinator.codes import Code
from haflow.coordinator.exitcodes import ExitCode
from haflow.coordinator.reports import HaflowError, Severity
from haflow.coordinator.workflow.loader import check_text, load

pytestmark = pytest.mark.tier0

INVALID = Path(__file__).parent / "invalid"
CASES = sorted(p.stem for p in INVALID.glob("*.yaml"))


def _expected(name: str) -> list[tuple[Code, int, int, str]]:
    rows = []
    for line in (INVALID / f"{name}.expected").read_text().splitlines():
        code, where, fragment = line.split(" ", 2)
        row, col = where.split(":")
        rows.append((Code[code], int(row), int(col), fragment))
    return rows


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert all((INVALID / f"{n}.expected").exists() for n in CASES)


@pytest.mark.parametrize("name", CASES)
def test_reports_every_expected_error_with_its_location(name: str) -> None:
    path = INVALID / f"{name}.yaml"
    _, reports = check_text(path.read_text(), str(path))
    errors = [r for r in reports if r.severity == Severity.ERROR]
    got = [(r.code, r.line, r.column) for r in errors]
    assert got == [(c, ln, col) for c, ln, col, _ in _expected(name)], [str(r) for r in errors]
    for report, (_, _, _, fragment) in zip(errors, _expected(name), strict=True):
        assert fragment in report.message, str(report)
        assert report.file == str(path)


@pytest.mark.parametrize("name", CASES)
def test_load_raises_with_exit_code_invalid(name: str) -> None:
    with pytest.raises(HaflowError) as err:
        load(INVALID / f"{name}.yaml")
    assert err.value.exit_code == ExitCode.INVALID
    assert len(err.value.reports) == len(_expected(name))


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(HaflowError) as err:
        load(tmp_path / "nope.yaml")
    assert err.value.exit_code == ExitCode.NOT_FOUND
    assert err.value.reports[0].code == Code.FILE_NOT_FOUND
