"""The node-local "active here" marker of a step.

It lives on tmpfs (``/run``), so a reboot or a fencing clears it: a probe on
a node that did not run the step, or that has been power-cycled since,
answers "not running" even though the step's external effect exists, and the
effect never looks active on several nodes. It also keeps what the monitor
needs (the idempotency key, parameters with their output references
resolved, the outputs) so that a monitor needs no CIB query.

The format is line-based (no json: it is on the monitor's path).
"""

from __future__ import annotations

import posix  # not os: this is read on every monitor

DEFAULT_DIR = "/run/haflow/active"


def directory() -> str:
    return (posix.environ.get(b"HAFLOW_RUN_DIR") or DEFAULT_DIR.encode()).decode()


def _path(instance: str) -> str:
    # instance ids are XML ids plus an optional ":N"; nothing to escape but "/"
    return directory().rstrip("/") + "/" + instance.replace("/", "_")


# by hand, not the unicode_escape codec: importing that codec costs more than this
def _enc(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _dec(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append({"t": "\t", "n": "\n"}.get(nxt, nxt))
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


class Marker:
    __slots__ = ("key", "outputs", "resolved")

    def __init__(self, key: str, resolved: dict[str, str] | None = None,
                 outputs: dict[str, str] | None = None) -> None:
        self.key = key
        self.resolved = resolved or {}
        self.outputs = outputs or {}

    def dumps(self) -> str:
        lines = [f"key\t{_enc(self.key)}"]
        lines += [f"param\t{_enc(k)}\t{_enc(v)}" for k, v in sorted(self.resolved.items())]
        lines += [f"output\t{_enc(k)}\t{_enc(v)}" for k, v in sorted(self.outputs.items())]
        return "\n".join(lines) + "\n"

    @classmethod
    def loads(cls, text: str) -> Marker:
        marker = cls("")
        for line in text.splitlines():
            kind, _, rest = line.partition("\t")
            if kind == "key":
                marker.key = _dec(rest)
            elif kind in ("param", "output"):
                name, _, value = rest.partition("\t")
                target = marker.resolved if kind == "param" else marker.outputs
                target[_dec(name)] = _dec(value)
        return marker


def read(instance: str) -> Marker | None:
    try:
        with open(_path(instance), encoding="utf-8") as handle:
            return Marker.loads(handle.read())
    except FileNotFoundError:
        return None


def write(instance: str, marker: Marker) -> None:
    """Atomically (rename), so a crash never leaves half a marker."""
    import os

    path = _path(instance)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(marker.dumps())
    os.replace(tmp, path)


def remove(instance: str) -> None:
    # not contextlib.suppress: an import this path avoids
    try:  # noqa: SIM105
        posix.unlink(_path(instance))
    except FileNotFoundError:
        pass
