"""Only the encoding spells how a workflow is written into the CIB (haflow.encoding).

Everything else imports the names from encoding/meta.py and encoding/ids.py,
so that an id suffix or meta attribute name cannot drift between the agents,
the coordinator and the lab. Tests may spell them: they pin the format.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.tier0

ROOT = Path(__file__).resolve().parent.parent.parent
# the encoding's own spellings (meta.py, ids.py), and the outputs set id it replaced
BANNED = ("haflow-effect", "haflow-output-", "haflow-failure-policy", "haflow-event-",
          ".root.sweep", "-haflow-outputs")
SKIPPED = {"encoding", "tests", "build", "dist"}


def _sources() -> list[Path]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts[0] in SKIPPED or any(p.startswith(".") or p.endswith(".egg-info")
                                      for p in parts):
            continue
        found.append(path)
    return found


def test_the_sources_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _sources()}
    assert {"agents/cibio.py", "coordinator/workflow/compiler.py"} <= names
    assert not any(n.startswith(("encoding/", "tests/")) for n in names)


def test_no_source_outside_the_encoding_spells_its_names() -> None:
    hits = [f"{path.relative_to(ROOT)}:{number}: {literal}"
            for path in _sources()
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            for literal in BANNED if literal in line]
    assert hits == []
