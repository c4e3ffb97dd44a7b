"""Log lines into Pacemaker's detail log, tagged with the resource, as ocf_log does."""

from __future__ import annotations

import os
import time

DEFAULT_LOGFILE = "/var/log/pacemaker/pacemaker.log"


def logfile() -> str | None:
    """Where Pacemaker's detail log is, as execd tells agents (else the Debian default)."""
    for var in ("HA_DEBUGLOG", "HA_LOGFILE", "PCMK_logfile"):
        path = os.environ.get(var)
        if path and path not in ("none", "/dev/null"):
            return path
    return DEFAULT_LOGFILE if os.path.isdir(os.path.dirname(DEFAULT_LOGFILE)) else None


def log(level: str, tag: str, message: str) -> None:
    """Append one line; never fails the action over a log line."""
    path = logfile()
    if path is None:
        return
    stamp = time.strftime("%b %d %H:%M:%S")
    host = os.uname().nodename
    line = f"{stamp} {host} {tag}[{os.getpid()}]: {level}: {message}\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line.encode("utf-8", "replace"))
        finally:
            os.close(fd)
    except OSError:
        pass
