"""Who is asking, and may they: bearer tokens checked against the users in the CIB, roles,
and a limit on failed logins per client address."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from haflow.coordinator.codes import Code
from haflow.coordinator.reports import HaflowError, error
from haflow.encoding.service import ROLES

FAILED_LOGINS = 10  # failures per address within WINDOW_S before it must wait
WINDOW_S = 60.0


@dataclass(frozen=True)
class Caller:
    user: str
    role: str

    def may(self, role: str) -> bool:
        """Whether the caller's role includes ``role`` (admin > operator > viewer)."""
        return ROLES.index(self.role) >= ROLES.index(role)


class FailedLogins:
    """Failed logins per client address in a sliding window; over the limit, the address
    is refused before its token is even looked at, until the window has passed."""

    def __init__(self, limit: int = FAILED_LOGINS, window: float = WINDOW_S) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._seen.setdefault(address, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def check(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            times = self._recent(address, now)
            if len(times) >= self.limit:
                wait = max(1, round(times[0] + self.window - now))
                raise error(Code.TOO_MANY_FAILED_LOGINS, f"{len(times)} failed logins from "
                            f"{address} within {self.window:g} s: try again in {wait} s",
                            details={"retry_after": wait})

    def failed(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent(address, now).append(now)
            if len(self._seen) > 10000:  # forget addresses whose window has passed
                for key in [k for k, v in self._seen.items() if not v or v[-1] <= now
                            - self.window]:
                    del self._seen[key]


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def unauthenticated(why: str) -> HaflowError:
    return error(Code.AUTH_REQUIRED, f"{why}: send 'Authorization: Bearer TOKEN' with a token "
                 "from 'haflow users add NAME --role ROLE'")


def forbidden(caller: Caller, role: str, what: str) -> HaflowError:
    return error(Code.FORBIDDEN, f"user '{caller.user}' ({caller.role}) may not {what}: "
                 f"that needs the role {role} or above", details={"role": caller.role,
                                                                   "needs": role})
