"""The web view with a big workflow, in Debian's chromium: first paint and live updates.

Offline (no lab): the CIB of a running workflow of N steps (bench/status.py's: chains of 10,
every step started) and crm_mon's view of it make the view of ``haflow serve``'s own app
(FastAPI, in this process, on loopback; only the cluster reads are replaced by that file),
and Playwright drives Debian's chromium (headless, a fresh profile, nothing downloaded):

- first paint: from navigation to the frame in which every step's box shows its state
  (``data-state`` set, after the page read the workflow and its layout), median of RUNS,
  with the layout made by dot for that run (cold) and taken from the service's cache
  (warm); the same for a workflow of ``--baseline-steps`` steps in the same run, and the
  ratio between them;
- live updates: for SECONDS, events of step state changes published at ``--rate`` per
  second through the service's event stream (the same broadcaster a CIB change feeds),
  while the page records the gaps between its animation frames; the same time without
  events is the baseline. A frozen page shows as a long gap; every state sent must be on
  screen at the end.

    python bench/web.py [--steps 500] [--baseline-steps 10] [--rate 200] [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent))
from status import running_cib, snapshot_mon  # bench/status.py

RUNS = 3
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
USER = "bench"
CYCLE = ("undoing", "undone", "waiting", "starting", "done")

# in the page: every box has a state; the value is the time of that frame
PAINTED = """(n) => {
  const boxes = document.querySelectorAll('.step[data-step]');
  if (boxes.length !== n) return false;
  for (const b of boxes) if (!b.dataset.state) return false;
  return performance.now();
}"""
FRAMES_START = """() => {
  window.__gaps = []; let last = performance.now();
  const tick = (now) => { window.__gaps.push(now - last); last = now;
    if (!window.__stopFrames) requestAnimationFrame(tick); };
  window.__stopFrames = false; requestAnimationFrame(tick);
}"""
FRAMES_STOP = "() => { window.__stopFrames = true; return window.__gaps; }"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def with_user(cib: etree._Element) -> str:
    """Add a viewer to ``cib``; its token."""
    from haflow.coordinator.commands.property_sets import set_value
    from haflow.encoding.service import USERS_SET, UserRecord, token_digest, user_nvpair

    secret, salt = secrets.token_urlsafe(32), secrets.token_hex(8)
    set_value(cib, USERS_SET, user_nvpair(USER),
              UserRecord("viewer", salt, token_digest(salt, secret), int(time.time())).encode())
    return f"{USER}.{secret}"


class Served:
    """haflow serve's app over one fixed view of the cluster, on a loopback port."""

    def __init__(self, name: str, steps: int) -> None:
        import uvicorn

        from haflow.coordinator.cluster.env import Env
        from haflow.coordinator.commands.status import all_statuses
        from haflow.coordinator.service.app import create_app
        from haflow.coordinator.service.snapshot import View

        self.name = name
        cib = running_cib(name, steps, 1)
        self.token = with_user(cib)
        cib_text = etree.tostring(cib, encoding="unicode")
        mon = etree.fromstring(snapshot_mon(cib_text, None)[0].encode())
        self.app = create_app(Env(), watch=False)
        self.service = self.app.state.service
        # read_at in the future: the view is never read again from a cluster
        self.view = View(cib, mon, {w.name: w for w in all_statuses(cib, mon)}, 1,
                         time.monotonic() + 1e9)
        self.service.snapshot.view = self.view
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def publish_round(self, offset: int, count: int) -> None:
        """``count`` steps (from ``offset``) move one state on, in the view and as events."""
        steps = self.view.workflows[self.name].steps
        events = []
        for i in range(offset, offset + count):
            step = steps[i % len(steps)]
            state = CYCLE[(CYCLE.index(step.state.value) + 1) % len(CYCLE)]
            step.state = type(step.state)(state)
            events.append({"type": "step", "workflow": self.name, "step": step.name,
                           "state": state, "node": step.node, "was": None})
        self.service.events.publish(events)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def sign_in(page: Any, served: Served) -> None:
    page.goto(served.url + "/")
    page.fill("#token", served.token)
    page.click("#signin-button")
    page.wait_for_selector("#workflows")


def first_paint(page: Any, served: Served, steps: int, cold: bool) -> float:
    from haflow.coordinator.commands import graph

    if cold:
        graph._cache.clear()
    page.goto("about:blank")
    page.goto(f"{served.url}/#/workflow/{served.name}")
    painted = page.wait_for_function(PAINTED, arg=steps, timeout=120_000)
    return float(painted.json_value()) / 1000


def frame_gaps(page: Any, seconds: float, during: Any = None) -> list[float]:
    page.evaluate(FRAMES_START)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if during is not None:
            during()
        time.sleep(0.1)
    gaps: list[float] = page.evaluate(FRAMES_STOP)
    return gaps[1:]  # the first measures from before the loop began


def summary(gaps: list[float]) -> str:
    ordered = sorted(gaps)
    p95 = ordered[int(0.95 * (len(ordered) - 1))] if ordered else 0.0
    long = sum(1 for g in gaps if g > 100)
    return (f"{len(gaps)} frames, median {statistics.median(gaps) if gaps else 0:.1f} ms, "
            f"p95 {p95:.1f} ms, max {max(gaps, default=0):.1f} ms, {long} over 100 ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--baseline-steps", type=int, default=10)
    parser.add_argument("--rate", type=int, default=200, help="events per second")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    # the host's load: on a shared machine it says how much CPU the browser had
    print("load average before: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    big = Served("big", args.steps)
    small = Served("small", args.baseline_steps)
    paint: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900})
        page = context.new_page()
        for served, steps in ((small, args.baseline_steps), (big, args.steps)):
            sign_in(page, served)
            for kind in ("cold", "warm"):
                paint[f"{steps} {kind}"] = [first_paint(page, served, steps, kind == "cold")
                                            for _ in range(RUNS)]
        # live updates on the big workflow's page
        first_paint(page, big, args.steps, False)
        page.wait_for_selector('#stream[data-stream="live"]')
        quiet = frame_gaps(page, args.seconds)
        per_tick = max(1, args.rate // 10)
        sent = [0]

        def burst() -> None:
            big.publish_round(sent[0], per_tick)
            sent[0] += per_tick

        busy = frame_gaps(page, args.seconds, burst)
        wanted = {s.name: s.state.value for s in big.view.workflows["big"].steps}
        page.wait_for_function(
            "(wanted) => [...document.querySelectorAll('.step[data-step]')].every("
            "b => b.dataset.state === wanted[b.dataset.step])", arg=wanted, timeout=30_000)
        context.close()
    big.stop()
    small.stop()

    def med(key: str) -> float:
        return statistics.median(paint[key])

    print("load average after: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    for key, values in paint.items():
        print(f"first paint, {key + ':':<12} median {statistics.median(values):.3f} s "
              f"({', '.join(f'{v:.3f}' for v in values)})")
    print(f"live, no events:        {summary(quiet)}")
    print(f"live, {sent[0]} events in {args.seconds:g} s: {summary(busy)}; every state "
          "sent is on screen")
    print(f"web: {args.steps}-step first paint {med(f'{args.steps} warm'):.3f} s warm, "
          f"{med(f'{args.steps} cold'):.3f} s cold = "
          f"{med(f'{args.steps} warm') / med(f'{args.baseline_steps} warm'):.2f}x / "
          f"{med(f'{args.steps} cold') / med(f'{args.baseline_steps} cold'):.2f}x "
          f"the {args.baseline_steps}-step page; live max frame gap "
          f"{max(busy, default=0):.0f} ms vs {max(quiet, default=0):.0f} ms without events "
          f"({max(busy, default=0) / max(max(quiet, default=1), 1):.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
