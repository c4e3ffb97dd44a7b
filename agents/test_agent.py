"""``ocf:haflow:test``: a step for demos and fault tests, with a record of everything it did.

Its "external effect" is a file under ``state_dir`` (shared by every node of
a lab), named after the idempotency key, so tests can count effects; every
action appends a line to ``state_dir/records.log``::

    EPOCH<TAB>NODE<TAB>RESOURCE<TAB>KEY<TAB>EVENT<TAB>DETAIL

Events: do, do-failed, hang, adopt, undo, undo-noop, undo-failed, drift. A start
or stop that has done everything but return its result appends ``started`` or
``stopped`` to ``state_dir/completed.log`` in the same format (the detail says
whether the node had quorum then): the actions that completed, which the
workflow's history must hold. On
command it takes a while (with progress), fails its first N starts, lets its
effect drift after T seconds, hangs, or fails its undo. Deleting an effect
file by hand also makes a drift.
"""

from __future__ import annotations

import posix
import sys
import time

from haflow.agents import ocfcodes
from haflow.agents.framework import OcfError, run
from haflow.agents.params import BOOLEAN, INTEGER, Param
from haflow.agents.step import Outputs, StepAgent, StepContext

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_STATE_DIR = "/var/lib/haflow-test"


class TestAgent(StepAgent):
    name = "test"
    version = "1.0"
    shortdesc = "Test step: a file as its effect, with faults on command"
    longdesc = ("A step whose effect is a file in state_dir, for demos and fault tests. It "
                "records every action it runs, and where, in state_dir/records.log.")
    params = (
        Param("state_dir", shortdesc="Directory for effects and records",
              longdesc="Where effects (effects/KEY) and the record log (records.log) are kept; "
              "must be shared by every node that may run the step.",
              default=DEFAULT_STATE_DIR),
        Param("duration", INTEGER, shortdesc="Seconds a start takes",
              longdesc="How long do takes, reporting progress every second.", default=0),
        Param("linger", INTEGER, shortdesc="Seconds a start waits after making its effect",
              longdesc="After the effect exists, the start waits this long before it returns: "
              "a crash then leaves an effect a survivor must adopt.", default=0),
        Param("undo_duration", INTEGER, shortdesc="Seconds an undo takes", default=0),
        Param("fail_start", INTEGER, shortdesc="Fail the first N starts",
              longdesc="The first N attempts of do (per idempotency key) fail.", default=0),
        Param("partial", BOOLEAN, shortdesc="A failed start leaves a partial effect",
              longdesc="When a start fails on purpose, leave a partial effect behind first.",
              default=False),
        Param("drift_after", INTEGER, shortdesc="Effect disappears after T seconds",
              longdesc="After T seconds the effect is gone and the monitor fails (0: never).",
              default=0),
        Param("hang", BOOLEAN, shortdesc="Start never returns (the timeout fires)",
              default=False),
        Param("fail_undo", BOOLEAN, shortdesc="Undo fails", default=False),
        Param("output", shortdesc="Extra output value",
              longdesc="Stored as output 'value' next to the generated output 'id'; may "
              "reference outputs of earlier steps.", default="", reloadable=True),
    )
    timeouts: Mapping[str, int] = {**StepAgent.timeouts, "start": 60, "stop": 60}

    # ---- the effect on disk ---------------------------------------------------------------

    def _dir(self, *parts: str) -> str:
        # plain joins, not os.path: check runs on every monitor, and os is slow to import
        base = str(self.values.get("state_dir") or DEFAULT_STATE_DIR).rstrip("/")
        return "/".join((base, *parts))

    def _effect_path(self, key: str) -> str:
        return self._dir("effects", key.replace("/", "__"))

    def record(self, ctx: StepContext | None, event: str, detail: str = "",
               log: str = "records.log") -> None:
        import os

        key = self.idempotency_key if ctx is None else ctx.key
        line = "\t".join((f"{time.time():.3f}", self.node, self.resource, key, event,
                          " ".join(detail.split())))
        os.makedirs(self._dir(), exist_ok=True)
        fd = os.open(self._dir(log), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())  # one write: lines never interleave
        finally:
            os.close(fd)

    def _attempt(self, key: str) -> int:
        import os

        path = self._dir("attempts", key.replace("/", "__"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, b".")
        finally:
            os.close(fd)
        return os.path.getsize(path)

    # ---- the actions, recorded once complete -----------------------------------------------

    def start(self) -> int:
        code = super().start()
        self.record(None, "started", self._quorum(), log="completed.log")
        return code

    def stop(self) -> int:
        code = super().stop()
        self.record(None, "stopped", self._quorum(), log="completed.log")
        return code

    def _quorum(self) -> str:
        """``quorum=1`` when this node's partition has quorum as the action completes,
        ``quorum=0`` when not (a node cut off stops its steps before it is fenced: the
        CIB it writes to is its own, which the cluster's replaces when it rejoins)."""
        import subprocess

        try:
            found = subprocess.run(["crm_node", "--quorum"], capture_output=True, text=True,
                                   timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            found = ""
        return f"quorum={found if found in ('0', '1') else '?'}"

    # ---- the contract ---------------------------------------------------------------------

    def validate(self) -> list[str]:
        problems = []
        for name in ("duration", "linger", "undo_duration", "fail_start", "drift_after"):
            value = self.values.get(name)
            if isinstance(value, int) and value < 0:
                problems.append(f"parameter '{name}' must not be negative (got {value})")
        return problems

    def do(self, ctx: StepContext) -> Outputs | None:
        attempt = self._attempt(ctx.key)
        if ctx.params.get("hang"):
            self.record(ctx, "hang", "hanging on purpose")
            while True:
                time.sleep(1)
        duration = int(ctx.params.get("duration") or 0)
        for second in range(duration):
            ctx.progress(100 * second // duration, f"working, {duration - second} s to go")
            time.sleep(1)
        outputs = {"id": f"test-{posix.getpid()}-{int(time.time() * 1000)}"}
        if ctx.params.get("output"):
            outputs["value"] = str(ctx.params["output"])
        fail_start = int(ctx.params.get("fail_start") or 0)
        if attempt <= fail_start:
            if ctx.params.get("partial"):
                self._write_effect(ctx, outputs, partial=True)
            self.record(ctx, "do-failed", f"attempt {attempt} of {fail_start} failing on purpose")
            raise OcfError(ocfcodes.ERR_GENERIC,
                           f"failing on purpose (attempt {attempt}, fail_start={fail_start})")
        self._write_effect(ctx, outputs, partial=False)
        self.record(ctx, "do", f"attempt {attempt} id={outputs['id']}")
        for _ in range(int(ctx.params.get("linger") or 0)):
            ctx.progress(100, "done, lingering")
            time.sleep(1)
        return outputs

    def _write_effect(self, ctx: StepContext, outputs: Outputs, partial: bool) -> None:
        import os

        path = self._effect_path(ctx.key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        lines = [f"node={self.node}", f"created={time.time():.3f}",
                 f"partial={int(partial)}"] + [f"output.{k}={v}" for k, v in outputs.items()]
        tmp = f"{path}.{os.getpid()}.tmp"  # nodes share the state dir
        with open(tmp, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        os.replace(tmp, path)

    def _read_effect(self, key: str) -> dict[str, str] | None:
        try:
            with open(self._effect_path(key)) as handle:
                text = handle.read()
        except FileNotFoundError:
            return None
        return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

    def check(self, ctx: StepContext) -> bool | Outputs:
        effect = self._read_effect(ctx.key)
        if effect is None or effect.get("partial") == "1":
            return False
        drift_after = int(ctx.params.get("drift_after") or 0)
        if drift_after and time.time() - float(effect.get("created", "0")) > drift_after:
            posix.unlink(self._effect_path(ctx.key))
            self.record(ctx, "drift", f"effect gone after {drift_after} s")
            return False
        if ctx.action in ("start", "migrate_from"):  # a failover, or a hand-over
            self.record(ctx, "adopt", f"made on {effect.get('node')}, by {ctx.action}")
        return {k[7:]: v for k, v in effect.items() if k.startswith("output.")}

    def undo(self, ctx: StepContext) -> None:
        import os

        if ctx.params.get("fail_undo"):
            self.record(ctx, "undo-failed", "failing on purpose")
            raise OcfError(ocfcodes.ERR_GENERIC, "undo failing on purpose (fail_undo=true)")
        for _ in range(int(ctx.params.get("undo_duration") or 0)):
            time.sleep(1)
        try:
            os.unlink(self._effect_path(ctx.key))
        except FileNotFoundError:
            self.record(ctx, "undo-noop", "no effect to undo")
            return
        self.record(ctx, "undo")


def main() -> int:
    return run(TestAgent)


if __name__ == "__main__":
    sys.exit(main())
