"""Hostile workflow files: each gets a clear error or a correct compile, never a
crash, never an ill-formed CIB, never a command the file did not declare.

The corpus is tests/fuzz/hostile/NAME.yaml with NAME.expected: either
``compiles`` or the exact errors, one per line, ``CODE LINE:COLUMN``. Inputs too
big to commit (huge files, 10,000-level nesting) are generated below.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lxml import etree

from haflow.coordinator.exitcodes import ExitCode
from haflow.coordinator.reports import HaflowError, Severity
from haflow.coordinator.workflow import agent_info as metadata
from haflow.coordinator.workflow.agent_info import agent_info
from haflow.coordinator.workflow.compiler import CompiledWorkflow, compile_workflow
from haflow.coordinator.workflow.loader import check_text, load, loads, read
from haflow.coordinator.workflow.model import AgentSpec
from haflow.coordinator.workflow.yamlsrc import MAX_CHARS, MAX_DEPTH, MAX_VALUES, parse
from tests.fuzz.fuzzcheck import Spawns, assert_clear_error, assert_round_trip, reference
from tests.workflow.cibtools import verify_compiled

pytestmark = pytest.mark.tier0

HOSTILE = Path(__file__).parent / "hostile"
CASES = sorted(p.stem for p in HOSTILE.glob("*.yaml"))
# the corpus' shell payloads all write below this prefix
SENTINEL = "/tmp/haflow-fuzz-sentinel"
OK_STEPS = "steps:\n  a: {agent: test}\n"


def _sentinels() -> list[str]:
    return sorted(str(p) for p in Path("/tmp").glob(Path(SENTINEL).name + "*"))


def _expected(name: str) -> list[tuple[str, int, int]] | None:
    """None for ``compiles``, else the (code, line, column) of every error."""
    text = (HOSTILE / f"{name}.expected").read_text()
    if text.strip() == "compiles":
        return None
    rows = []
    for line in text.splitlines():
        code, where = line.split(" ")
        row, col = where.split(":")
        rows.append((code, int(row), int(col)))
    return rows


def _codes(err: HaflowError) -> list[tuple[str, int | None, int | None]]:
    return [(r.code, r.line, r.column) for r in err.reports]


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25
    assert all((HOSTILE / f"{n}.expected").exists() for n in CASES)
    assert sum(_expected(n) is None for n in CASES) >= 5, "some hostile files must compile"


@pytest.mark.parametrize("name", CASES)
def test_hostile_file_gets_its_outcome_and_runs_nothing(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for stale in _sentinels():
        os.unlink(stale)
    spawns = Spawns()
    spawns.install(monkeypatch)
    monkeypatch.chdir(tmp_path)  # a relative payload would land here
    agent_info.cache_clear()  # the real lookup, uncached: it is what could run things
    path = HOSTILE / f"{name}.yaml"
    expected = _expected(name)
    started = time.monotonic()
    try:
        compiled: CompiledWorkflow | None = compile_workflow(load(path))
        error = None
    except HaflowError as err:
        compiled, error = None, err
    # no timed assert (shared, noisy machines): the loader's own limits end a bomb;
    # a hang would hit pytest's overall run, not a wall-clock guess
    del started
    # nothing the file holds was executed, whatever the outcome
    assert _sentinels() == []
    assert list(tmp_path.iterdir()) == []
    assert spawns.calls == []
    if expected is None:
        assert error is None, str(error)
        assert compiled is not None
        wf = load(path)
        assert_round_trip(wf, compiled, reference(path.read_text(encoding="utf-8")))
    else:
        assert error is not None, f"{name} compiled"
        assert error.exit_code == ExitCode.INVALID
        assert _codes(error) == expected, str(error)
        assert all(r.file == str(path) for r in error.reports)
        assert_clear_error(error)


@pytest.mark.parametrize("name", [n for n in CASES if _expected(n) is None])
def test_hostile_file_that_compiles_passes_crm_verify(name: str) -> None:
    verify_compiled(compile_workflow(load(HOSTILE / f"{name}.yaml")))


def test_xml_lookalike_params_stay_text() -> None:
    """``</nvpair><primitive ...>`` in a value is a value: no element is injected."""
    path = HOSTILE / "params-xml-lookalike.yaml"
    root = etree.fromstring(compile_workflow(load(path)).to_xml())
    assert [p.get("id") for p in root.iter("primitive")] == ["xmlish.root", "xmlish.a"]
    do = root.find(".//nvpair[@name='do']")
    assert do is not None
    assert do.get("value") == ('</nvpair><primitive id="evil"/><nvpair name="x" value="')
    assert not list(root.iter(etree.Entity, etree.Comment, etree.ProcessingInstruction))


def test_yaml_1_2_reads_norway_values_as_text() -> None:
    """``no``/``on``/``y`` are strings in YAML 1.2 (ruamel's default): no ``false`` appears."""
    wf = load(HOSTILE / "norway-values.yaml")
    assert wf.steps["a"].params == {
        "do": "no",
        "undo": "on",
        "check": "off",
        "env": "y",
        "shell": "yes",
    }


# --- the fixes found by fuzzing, one test each ---------------------------------------------


def test_agent_name_cannot_walk_out_of_the_ocf_root(tmp_path: Path) -> None:
    """Validation asks ``crm_resource --show-metadata`` about foreign agents, which runs
    $OCF_ROOT/resource.d/PROVIDER/TYPE: ``ocf:../../../../tmp/x:evil`` ran /tmp/x/evil."""
    ran = tmp_path / "RAN"
    evil = tmp_path / "evil"
    evil.write_text(f"#!/bin/sh\ntouch {ran}\necho '<resource-agent/>'\n")
    evil.chmod(0o755)
    up = "../" * 12  # far more than the OCF root's depth: '..' stops at '/'
    agent = f"ocf:{up}{str(tmp_path).lstrip('/')}:evil"
    agent_info.cache_clear()
    _, reports = check_text(f"name: trav\nsteps:\n  a: {{agent: '{agent}'}}\n")
    assert [r.code for r in reports if r.severity == Severity.ERROR] == ["BAD_AGENT"]
    # the lookup itself refuses such a spec too, whoever builds it
    info = metadata._foreign_info(AgentSpec("ocf", up + str(tmp_path).lstrip("/"), "evil"))
    assert info.error
    assert not ran.exists()


@pytest.mark.parametrize(
    "agent",
    ["ocf:heartbeat:Dummy", "ocf:pacemaker:Stateful", "ocf:my-org:db2.v1+x", "ocf:_p:_t"],
)
def test_ordinary_agent_names_still_parse(agent: str) -> None:
    assert AgentSpec.parse(agent) is not None


@pytest.mark.parametrize(
    "agent", ["ocf:..:x", "ocf:.hidden:x", "ocf:a/b:x", "ocf:a:-x", "ocf:a:x y", "ocf:a:x\0"]
)
def test_agent_names_with_paths_or_metacharacters_do_not_parse(agent: str) -> None:
    assert AgentSpec.parse(agent) is None


@pytest.mark.parametrize(
    "text",
    [
        "x: &a [1, *a]\n",
        "x: &a {b: *a}\n",
        "x: &a {<<: *a}\n",
        "x: &a {b: &c {<<: *a}}\n",
    ],
)
def test_recursive_aliases_are_reported_not_recursed(text: str) -> None:
    """They used to raise RecursionError."""
    _, reports = parse(text, "loop.yaml")
    assert [r.code for r in reports] == ["YAML_ALIAS_LOOP"]


@pytest.mark.parametrize(
    ("shape", "value"),
    [
        ("flow lists", " " + "[" * 10_000 + "]" * 10_000),
        ("flow maps", " " + "{a: " * 10_000 + "1" + "}" * 10_000),
        ("block lists", "\n" + "".join(" " * i + "-\n" for i in range(0, 2 * 400, 2))),
        ("block maps", "\n" + "".join(" " * (i + 1) + "k:\n" for i in range(400))),
        ("mixed", " " + "[{a: " * 5_000 + "1" + "}]" * 5_000),
    ],
)
def test_deep_nesting_is_too_large_with_a_location(shape: str, value: str) -> None:
    """10,000 levels raised RecursionError (and 100,000 killed the interpreter)."""
    started = time.monotonic()
    with pytest.raises(HaflowError) as err:
        loads(f"name: deep\n{OK_STEPS}x-deep:{value}\n")
    assert time.monotonic() - started < 5, shape
    assert_clear_error(err.value)
    assert [r.code for r in err.value.reports] == ["YAML_TOO_LARGE"]
    assert f"{MAX_DEPTH} levels" in err.value.reports[0].message


def test_nesting_at_the_limit_is_fine() -> None:
    depth = MAX_DEPTH - 2  # the top-level mapping and x-deep's own level count too
    loads(f"name: deep\n{OK_STEPS}x-deep: {'[' * depth}{']' * depth}\n")


def test_hundred_thousand_levels_do_not_kill_the_interpreter() -> None:
    """ruamel's composer segfaulted here: run it in a child so a regression is a failure."""
    code = (
        "from haflow.coordinator.workflow.loader import check_text\n"
        "_, r = check_text('x: ' + '[' * 100_000 + ']' * 100_000)\n"
        "print(r[0].code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "YAML_TOO_LARGE"


def test_many_values_are_too_large_before_composing() -> None:
    started = time.monotonic()
    text = f"name: big\n{OK_STEPS}x-big: [" + "1," * (MAX_VALUES + 10) + "1]\n"
    with pytest.raises(HaflowError) as err:
        loads(text)
    assert time.monotonic() - started < 10
    assert [r.code for r in err.value.reports] == ["YAML_TOO_LARGE"]
    assert_clear_error(err.value)


def test_huge_file_is_too_large(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("w") as f:
        f.write(f"name: huge\n{OK_STEPS}description: '")
        f.write("x" * (MAX_CHARS + 1))
        f.write("'\n")
    for from_file in (True, False):
        with pytest.raises(HaflowError) as err:
            load(path) if from_file else loads(path.read_text())
        assert [(r.code, r.line, r.column) for r in err.value.reports] == [("YAML_TOO_LARGE", 1, 1)]
        assert err.value.exit_code == ExitCode.INVALID


def test_big_but_allowed_value_compiles_and_round_trips() -> None:
    value = "echo '<&>'; " * 200_000  # 2.4 MB in one parameter
    text = f'name: big\nsteps:\n  a:\n    agent: exec\n    params:\n      do: "{value}"\n'
    started = time.monotonic()
    wf = loads(text)
    compiled = compile_workflow(wf)
    assert_round_trip(wf, compiled, {"name": "big", "steps": {"a": {"params": {"do": value}}}})
    assert time.monotonic() - started < 10


def test_endless_device_is_read_bounded() -> None:
    """``haflow validate /dev/zero`` used to read until memory ran out."""
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    with pytest.raises(HaflowError) as err:
        read("/dev/zero")
    assert [r.code for r in err.value.reports] == ["YAML_TOO_LARGE"]


def test_directory_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(HaflowError) as err:
        load(tmp_path)
    assert [r.code for r in err.value.reports] == ["UNREADABLE"]
    assert err.value.exit_code == ExitCode.ERROR


def test_path_below_a_file_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(HaflowError) as err:
        load(tmp_path / "file" / "wf.yaml")
    assert [r.code for r in err.value.reports] == ["UNREADABLE"]


def test_dangling_symlink_is_not_found(tmp_path: Path) -> None:
    (tmp_path / "link.yaml").symlink_to(tmp_path / "gone.yaml")
    with pytest.raises(HaflowError) as err:
        load(tmp_path / "link.yaml")
    assert err.value.exit_code == ExitCode.NOT_FOUND


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_file_without_read_permission_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text(f"name: s\n{OK_STEPS}")
    path.chmod(0)
    with pytest.raises(HaflowError) as err:
        load(path)
    assert [r.code for r in err.value.reports] == ["UNREADABLE"]


def test_invalid_utf8_points_at_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    # the column counts characters: 'é' is two bytes
    path.write_bytes("name: ok\nsteps:\n  é: {agent: t".encode() + b"\xc3\x28st}\n")
    with pytest.raises(HaflowError) as err:
        load(path)
    assert [(r.code, r.line, r.column) for r in err.value.reports] == [("NOT_UTF8", 3, 15)]


def test_crlf_and_cr_files_load_like_text_mode(tmp_path: Path) -> None:
    for newline in ("\r\n", "\r"):
        path = tmp_path / "crlf.yaml"
        path.write_bytes(f"name: nl{newline}steps:{newline}  a: {{agent: test}}{newline}".encode())
        assert list(load(path).steps) == ["a"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('name: a\nsteps: {a: {agent: exec, params: {do: "x\\0y"}}}\n', "BAD_CHARACTER"),
        ('name: a\ndescription: "\\e[1m"\nsteps: {a: {agent: test}}\n', "BAD_CHARACTER"),
        ('name: a\nsteps: {a: {agent: test, nodes: ["n\\x01"]}}\n', "BAD_CHARACTER"),
        ('name: a\nsteps: {a: {agent: exec, params: {do: "\\uFFFF"}}}\n', "BAD_CHARACTER"),
        ("name: a\nsteps: {a: {agent: test}}\nx-a: \udcff\n", "BAD_CHARACTER"),
        ("name: a\nsteps: {a: {agent: test}}\nx-a: \x00\n", "BAD_CHARACTER"),
    ],
)
def test_characters_xml_cannot_hold_are_reported(text: str, code: str) -> None:
    """lxml raised ValueError at compile time for these (and the text ones at parse time)."""
    with pytest.raises(HaflowError) as err:
        loads(text)
    assert code in [r.code for r in err.value.reports]
    assert_clear_error(err.value)


@pytest.mark.parametrize(
    "text",
    [
        "name: !!python/object/apply:os.system ['touch /tmp/haflow-fuzz-sentinel-x']\n",
        "name: a\nsteps: !!python/object:os.system {a: {agent: test}}\n",
        "name: !!python/name:os.system\n",
        "name: !!python/module:os\n",
        "name: !custom x\n",
        "%TAG ! tag:yaml.org,2002:python/object/apply:\n---\nname: !os.system [id]\n",
        "name: !!int abc\n",
        "name: !!int \n",
        "name: !!bool maybe\n",
        "name: " + "9" * 5000 + "\n",
        "name: a\nsteps: !!map x\n",
    ],
)
def test_tags_never_construct_objects(text: str) -> None:
    """The safe loader raised ConstructorError/ValueError/KeyError out of the loader."""
    source, reports = parse(text, "tags.yaml")
    assert {"YAML_TAG", "YAML_VALUE"} & {r.code for r in reports}
    plain = (dict, list, str, int, float, bool, type(None))
    stack = [source.data]
    while stack:
        item = stack.pop()
        assert isinstance(item, plain), type(item)
        stack.extend(
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
    assert _sentinels() == []


@pytest.mark.parametrize("text", ["--- ~\n", "null\n", "~", "--- !!null\n...\n"])
def test_null_document_is_empty(text: str) -> None:
    """``loads`` raised ValueError (a HaflowError without reports) on these."""
    with pytest.raises(HaflowError) as err:
        loads(text)
    assert [r.code for r in err.value.reports] == ["EMPTY"]


def test_non_text_keys_are_reported() -> None:
    """``true:`` silently became a step named ``True``."""
    _, reports = check_text("name: a\nsteps:\n  true: {agent: test}\n  ~: {agent: test}\n")
    assert [(r.code, r.line) for r in reports if r.code == "YAML_KEY"] == [
        ("YAML_KEY", 3),
        ("YAML_KEY", 4),
    ]


def test_durations_beyond_pacemakers_32_bit_milliseconds_are_refused() -> None:
    with pytest.raises(HaflowError) as err:
        loads("name: a\nsteps: {a: {agent: test, timeout: 25d}}\n".replace("25d", "600h"))
    assert [r.code for r in err.value.reports] == ["BAD_DURATION"]
    loads("name: a\nsteps: {a: {agent: test, timeout: 500h}}\n")


def test_messages_cannot_drive_the_terminal() -> None:
    """A step name quoted in a message carried ``\\e]0;...`` (set the window title) and
    bidi overrides straight to the user's terminal."""
    text = 'name: wf\nsteps:\n  "a\\e]0;pwned\\a\\e[2J\\u202eb": {agent: test}\n'
    with pytest.raises(HaflowError) as err:
        loads(text)
    assert_clear_error(err.value)
    shown = str(err.value)
    assert "\x1b" not in shown and "\u202e" not in shown
    assert "a\\x1b]0;pwned\\x07\\x1b[2J\\u202eb" in shown


def test_hostile_node_names_and_rule_values_round_trip() -> None:
    compiled = compile_workflow(load(HOSTILE / "node-names-hostile.yaml"))
    root = etree.fromstring(compiled.to_xml())
    values = {e.get("value") for e in root.iter("expression")}
    assert {"<node1>", "a&b", "$(id)", 'n"1'} <= values


def test_one_big_scalar_aliased_many_times_is_too_large() -> None:
    """A 2 MB file whose 1 MB scalar was aliased 6,000 times into params: 30 s to load,
    then MemoryError building a 6 GB CIB."""
    big = "x" * 1_000_000
    steps = "".join(f"  s{i}: {{agent: exec, params: {{do: *b, undo: *b}}}}\n" for i in range(3000))
    started = time.monotonic()
    with pytest.raises(HaflowError) as err:
        loads(f"name: w\nx-big: &b {big}\nsteps:\n{steps}")
    assert time.monotonic() - started < 5
    assert [(r.code, r.line) for r in err.value.reports] == [("YAML_TOO_LARGE", 2)]
    assert "once aliases are expanded" in err.value.reports[0].message


def test_long_keys_through_aliases_count_too() -> None:
    key = "k" * 1_000_000
    refs = ", ".join(["*m"] * 40)
    with pytest.raises(HaflowError) as err:
        # an explicit key (``? KEY``): a plain one is at most 1,024 characters
        loads(f"name: w\n{OK_STEPS}x-m: &m\n  ? {key}\n  : 1\nx-all: [{refs}]\n")
    assert [r.code for r in err.value.reports] == ["YAML_TOO_LARGE"]


@pytest.mark.parametrize("submission", ["a\x00b", "\x1b[2J", "\ufffe"])
def test_submission_id_xml_cannot_hold_is_refused(submission: str) -> None:
    """``haflow compile --submission`` with a control character ended in lxml's ValueError."""
    wf = loads(f"name: s\n{OK_STEPS}")
    with pytest.raises(HaflowError) as err:
        compile_workflow(wf, submission)
    assert [r.code for r in err.value.reports] == ["BAD_SUBMISSION"]
    assert err.value.exit_code == ExitCode.USAGE


def test_submission_id_with_xml_metacharacters_is_escaped() -> None:
    compiled = compile_workflow(loads(f"name: s\n{OK_STEPS}"), "</nvpair>&'\"")
    root = etree.fromstring(compiled.to_xml())
    assert {e.get("value") for e in root.iter("nvpair") if e.get("name") == "submission"} == {
        "</nvpair>&'\""
    }


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('name: a\nsteps: {a: {agent: test, timeout: "5s\\n"}}\n', "WRONG_TYPE"),
        (
            'name: a\nsteps: {a: {agent: test, rules: [{attribute: "site\\n", op: defined}]}}\n',
            "INVALID_VALUE",
        ),
        ('name: a\nsteps: {a: {agent: exec, params: {"do\\n": x}}}\n', "BAD_KEY"),
    ],
)
def test_schema_patterns_do_not_accept_a_trailing_newline(text: str, code: str) -> None:
    """Python's ``$`` matches before a final newline: ``"site\\n"`` reached the CIB as a
    node attribute no node has."""
    with pytest.raises(HaflowError) as err:
        loads(text)
    assert [r.code for r in err.value.reports] == [code]


def test_spawn_recorder_sees_the_one_command_validation_may_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A positive control for ``spawns.calls == []`` above: a foreign agent's meta-data
    lookup (``crm_resource --show-metadata``) is the one command validation runs, and
    the recorder sees it."""
    spawns = Spawns()
    spawns.install(monkeypatch)
    agent_info.cache_clear()
    try:
        check_text("name: f\nsteps:\n  a: {agent: 'ocf:heartbeat:Dummy'}\n")
    finally:
        agent_info.cache_clear()
    assert [call[:2] for call in spawns.calls] == [["crm_resource", "--show-metadata"]]


def test_raw_control_character_location_counts_characters_not_bytes() -> None:
    """The C reader reports a UTF-8 byte offset: 'é' earlier in the file shifted it."""
    _, reports = parse("name: a\n# ééééé\nx-a: b\x1b\n", "f.yaml")
    assert [(r.code, r.line, r.column) for r in reports] == [("BAD_CHARACTER", 3, 7)]


@pytest.mark.parametrize("char", ["\x85", "\u2028", "\u2029"])
def test_yaml_1_1_line_breaks_are_refused_raw_and_kept_escaped(char: str) -> None:
    """libyaml folds a raw NEL/LS/PS in a quoted value into a space: JSON's (and the
    writer's) "\\x85" became " " in the CIB, without a word."""
    with pytest.raises(HaflowError) as err:
        loads(f'name: a\nsteps: {{a: {{agent: exec, params: {{do: "x{char}y"}}}}}}\n')
    assert [(r.code, r.line, r.column) for r in err.value.reports] == [("BAD_CHARACTER", 2, 41)]
    escaped = {"\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P"}[char]
    wf = loads(f'name: a\nsteps: {{a: {{agent: exec, params: {{do: "x{escaped}y"}}}}}}\n')
    assert wf.steps["a"].params["do"] == f"x{char}y"
    root = etree.fromstring(compile_workflow(wf).to_xml())
    assert root.find(".//nvpair[@name='do']").get("value") == f"x{char}y"  # type: ignore[union-attr]


def test_yaml_1_1_documents_are_refused() -> None:
    """ruamel's C parser reads a ``%YAML 1.1`` document as 1.2 and its pure-Python one
    honours 1.1: ``no:`` was a step named ``no`` or ``False`` depending on the machine."""
    with pytest.raises(HaflowError) as err:
        loads(f"%YAML 1.1\n---\nname: a\n{OK_STEPS}")
    assert [(r.code, r.line, r.column) for r in err.value.reports] == [("YAML_VERSION", 1, 1)]
    assert list(loads(f"%YAML 1.2\n---\nname: a\n{OK_STEPS}").steps) == ["a"]


def test_many_unknown_steps_are_reported_quickly() -> None:
    """'did you mean' compared every typo with every step (difflib, len² each): a 300 KB
    file of 3,000 steps whose names changed case took 7 minutes to validate."""
    text = "name: w\nsteps:\n" + "".join(
        f"  step-{i:05d}-abcdefghijklmnopqrstuvwxyz: {{agent: test, after: [step-{i:05d}-"
        "abcdefghijklmnopqrstuvwxyZ]}\n"
        for i in range(3000)
    )
    started = time.monotonic()
    _, reports = check_text(text)
    # no timed assert (shared, noisy machines): the loader's own limits end a bomb;
    # a hang would hit pytest's overall run, not a wall-clock guess
    del started
    assert [r.code for r in reports] == ["UNKNOWN_STEP"] * 3000
    assert "did you mean 'step-00000-abcdefghijklmnopqrstuvwxyz'" in reports[0].message


def test_long_unknown_names_are_not_fuzzy_matched() -> None:
    """Names over 48 characters are no typo of a valid one; matching 1,000-character
    names against each other took 48 s for 300 steps."""
    text = "name: w\nsteps:\n" + "".join(
        f"  {'ab' * 500}{i}: {{agent: test, after: [{'ab' * 499}x{i}]}}\n" for i in range(300)
    )
    started = time.monotonic()
    _, reports = check_text(text)
    assert time.monotonic() - started < 10
    assert {r.code for r in reports} == {"BAD_NAME", "UNKNOWN_STEP"}


def test_a_graph_full_of_cycles_reports_a_bounded_few() -> None:
    """Every step after every other: 600 steps held 180,000 cycles, reported as 300 MB of
    messages after 20 s. Now the first 20 (fixing them shows the next)."""
    n = 300
    text = "name: w\nsteps:\n" + "".join(
        f"  s{i}: {{agent: test, after: [{', '.join(f's{j}' for j in range(n) if j != i)}]}}\n"
        for i in range(n)
    )
    started = time.monotonic()
    _, reports = check_text(text)
    # no timed assert (shared, noisy machines): the loader's own limits end a bomb;
    # a hang would hit pytest's overall run, not a wall-clock guess
    del started
    assert [r.code for r in reports] == ["CYCLE"] * 20


def test_a_dense_dag_validates_in_linear_dfs() -> None:
    """Each step after all earlier ones: the cycle search recomputed a step's deps per
    visit (O(deps²) per step)."""
    n = 500
    text = "name: w\nsteps:\n" + "".join(
        f"  s{i}: {{agent: test, after: [{', '.join(f's{j}' for j in range(i))}]}}\n"
        for i in range(n)
    )
    started = time.monotonic()
    wf = loads(text)
    # no timed assert (shared, noisy machines): the loader's own limits end a bomb;
    # a hang would hit pytest's overall run, not a wall-clock guess
    del started
    assert len(compile_workflow(wf).resource_ids()) == n + 1


def test_a_value_with_thousands_of_references_validates_quickly() -> None:
    """Each loose ``${`` was checked against every parsed reference and each reference
    scanned the text before it for a newline: 3 x 30,000 references took 106 s."""
    refs = " ".join(f"${{steps.a.k{i}}} $${{lit}} ${{bad{i}}}" for i in range(20_000))
    text = (
        "name: w\nsteps:\n  a: {agent: exec, params: {do: x}}\n"
        f'  b: {{agent: exec, after: [a], params: {{do: "{refs}"}}}}\n'
    )
    started = time.monotonic()
    _, reports = check_text(text)
    assert time.monotonic() - started < 10
    assert [r.code for r in reports] == ["BAD_REFERENCE"] * 20_000
    # the column still points into the value (one line, after the opening quote)
    assert reports[0].column == text.splitlines()[3].index("${bad0}") + 1
