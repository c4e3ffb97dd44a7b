"""The OCF resource agent framework: declare parameters and actions, get the protocol right.

An agent is a subclass of :class:`Agent`. The framework parses
``OCF_RESKEY_*``, validates (reporting every problem), dispatches the action,
honours ``CRM_meta_timeout``, and maps results and exceptions to OCF exit
codes with an exit reason on stderr (``ocf-exit-reason:``) that crm_mon and
pcs show.

This module is on every monitor's path: stdlib only, nothing heavy at import.
"""

from __future__ import annotations

import posix  # not os: importing os costs a quarter of a bare interpreter's start-up
import sys

from haflow.agents import deadline, ocfcodes
from haflow.agents.params import Param, Value, parse
from haflow.encoding.value import from_cib

# typing and collections.abc cost milliseconds at import: annotations only
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# action name on the command line -> method name
ACTIONS = {
    "start": "start",
    "stop": "stop",
    "monitor": "monitor",
    "validate-all": "validate_all",
    "reload-agent": "reload_agent",
    "migrate_to": "migrate_to",
    "migrate_from": "migrate_from",
    "notify": "notify",
    "promote": "promote",
    "demote": "demote",
}
# actions that get ${secrets.NAME} resolved (a probe or meta-data never needs a secret)
SECRET_ACTIONS = ("start", "stop", "monitor", "reload-agent", "migrate_to", "migrate_from",
                  "validate-all")
# actions that work without a valid configuration
NO_CONFIG_ACTIONS = ("meta-data", "usage", "help", "validate-all")


class OcfError(Exception):
    """Ends the action with ``code`` and ``reason`` as the exit reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class ActionSpec:
    __slots__ = ("depth", "interval", "name", "role", "timeout")

    def __init__(self, name: str, timeout: int, interval: int | None = None,
                 depth: int | None = None, role: str | None = None) -> None:
        self.name = name
        self.timeout = timeout
        self.interval = interval
        self.depth = depth
        self.role = role


class Agent:
    """Base class: subclasses set the class attributes and override the actions they have."""

    name = ""
    version = "1.0"
    shortdesc = ""
    longdesc = ""
    params: tuple[Param, ...] = ()
    # default timeouts (s) advertised in meta-data; used when Pacemaker gives none
    timeouts: Mapping[str, int] = {"start": 20, "stop": 20, "monitor": 20, "validate-all": 10,
                                   "meta-data": 5, "reload-agent": 10, "migrate_to": 20,
                                   "migrate_from": 20, "notify": 20, "promote": 20,
                                   "demote": 20}
    monitor_interval = 10

    def __init__(self, environ: Mapping[str, str], action: str = "") -> None:
        self.environ = environ
        self.action = action
        # values as the compiler gave them (encoding/value.py: line breaks survive the CIB)
        raw = {k[11:]: v if k.startswith("OCF_RESKEY_CRM_meta_") else from_cib(v)
               for k, v in environ.items() if k.startswith("OCF_RESKEY_")}
        # ${secrets.NAME}: resolved from this node's store as the action runs (secrets.py);
        # a secret missing here fails the action that needs it (SECRET_ACTIONS)
        self.secret_problems: list[str] = []
        if action in SECRET_ACTIONS and any("${secrets." in v for v in raw.values()):
            from haflow.agents import secrets

            raw, self.secret_problems = secrets.resolve_params(raw, action == "start")
        self.meta = {k[9:]: v for k, v in raw.items() if k.startswith("CRM_meta_")}
        self.raw = raw
        instance = environ.get("OCF_RESOURCE_INSTANCE") or self.name
        self.instance = instance
        # anonymous clone instances are "rsc:N"; the CIB knows only "rsc"
        self.resource = instance.split(":", 1)[0]
        self.values: dict[str, Value]
        self.values, self.problems = parse(self.all_params(), raw)

    # ---- declaration ------------------------------------------------------------------------

    @classmethod
    def all_params(cls) -> tuple[Param, ...]:
        return cls.params

    @classmethod
    def implements(cls, action: str) -> bool:
        method = ACTIONS.get(action)
        if method is None:
            return action in ("meta-data", "usage")
        if method == "validate_all":
            return True
        return getattr(cls, method) is not getattr(Agent, method)

    @classmethod
    def advertised_actions(cls) -> list[ActionSpec]:
        specs = []
        for action in ("start", "stop", "monitor", "reload-agent", "migrate_to",
                       "migrate_from", "notify", "promote", "demote"):
            if not cls.implements(action):
                continue
            if action == "monitor":
                specs.append(ActionSpec("monitor", cls.timeouts["monitor"],
                                        interval=cls.monitor_interval, depth=0))
            else:
                specs.append(ActionSpec(action, cls.timeouts[action]))
        specs.append(ActionSpec("validate-all", cls.timeouts["validate-all"]))
        specs.append(ActionSpec("meta-data", cls.timeouts["meta-data"]))
        return specs

    @classmethod
    def meta_data(cls) -> str:
        from haflow.agents.ocf_metadata import generate

        return generate(cls)

    @classmethod
    def usage(cls) -> str:
        actions = "|".join(s.name for s in cls.advertised_actions())
        return f"usage: {cls.name} {{{actions}|usage}}\n"

    # ---- what Pacemaker tells us ------------------------------------------------------------

    @property
    def timeout(self) -> float:
        """Pacemaker's timeout for this action in seconds (else the advertised default)."""
        text = self.meta.get("timeout")
        if text and text.isdigit() and int(text) > 0:
            return int(text) / 1000.0
        return float(self.timeouts.get(self.action, 20))

    @property
    def interval_ms(self) -> int:
        text = self.meta.get("interval", "0")
        return int(text) if text.isdigit() else 0

    @property
    def is_probe(self) -> bool:
        return self.action == "monitor" and self.interval_ms == 0

    @property
    def node(self) -> str:
        return self.meta.get("on_node") or posix.uname().nodename

    # ---- actions (override what the agent has) --------------------------------------------

    def validate(self) -> list[str]:
        """Problems beyond the parameter types (e.g. a file that must exist); all of them.

        Runs even when some parameters failed to parse: use ``self.values.get``.
        """
        return []

    def validate_all(self) -> int:
        problems = self.problems + self.validate()
        if not problems:
            return ocfcodes.SUCCESS
        for problem in problems:
            sys.stderr.write(f"ERROR: {problem}\n")
        summary = problems[0] if len(problems) == 1 else (
            f"{len(problems)} problems: " + "; ".join(problems))
        raise OcfError(ocfcodes.ERR_CONFIGURED, summary)

    def start(self) -> int:
        raise OcfError(ocfcodes.ERR_UNIMPLEMENTED, "start is not implemented")

    def stop(self) -> int:
        raise OcfError(ocfcodes.ERR_UNIMPLEMENTED, "stop is not implemented")

    def monitor(self) -> int:
        raise OcfError(ocfcodes.ERR_UNIMPLEMENTED, "monitor is not implemented")

    def reload_agent(self) -> int:
        raise OcfError(ocfcodes.ERR_UNIMPLEMENTED, "reload-agent is not implemented")

    def migrate_to(self) -> int:
        raise OcfError(ocfcodes.ERR_UNIMPLEMENTED, "migrate_to is not implemented")

    def migrate_from(self) -> int:
        raise OcfError(ocfcodes.ERR_UNIMPLEMENTED, "migrate_from is not implemented")

    def notify(self) -> int:
        raise OcfError(ocfcodes.ERR_UNIMPLEMENTED, "notify is not implemented")

    def promote(self) -> int:
        raise OcfError(ocfcodes.ERR_UNIMPLEMENTED, "promote is not implemented")

    def demote(self) -> int:
        raise OcfError(ocfcodes.ERR_UNIMPLEMENTED, "demote is not implemented")

    # ---- helpers for agents -----------------------------------------------------------------

    def log(self, level: str, message: str) -> None:
        from haflow.agents.logs import log

        log(level, f"haflow-{self.name}({self.instance})", redacted(message))

    def require_valid(self) -> None:
        """Raise ERR_CONFIGURED naming every problem (start, reload)."""
        self.validate_all()


def run(agent_class: type[Agent], argv: Sequence[str] | None = None,
        environ: Mapping[str, str] | None = None) -> int:
    """Run one OCF action as Pacemaker would: the exit code is the return value."""
    argv = sys.argv if argv is None else argv
    environ = process_environ() if environ is None else environ
    if len(argv) != 2:
        sys.stderr.write(agent_class.usage())
        return ocfcodes.ERR_ARGS
    action = argv[1]
    if action == "meta-data":
        sys.stdout.write(agent_class.meta_data())
        return ocfcodes.SUCCESS
    if action in ("usage", "help"):
        sys.stdout.write(agent_class.usage())
        return ocfcodes.SUCCESS
    if action not in ACTIONS or not agent_class.implements(action):
        sys.stderr.write(agent_class.usage())
        exit_reason(f"action {action!r} is not implemented by {agent_class.name}")
        return ocfcodes.ERR_UNIMPLEMENTED
    agent = agent_class(environ, action)
    method = getattr(agent, ACTIONS[action])
    if action != "validate-all":
        deadline.arm(agent.timeout)
    try:
        if agent.secret_problems and not agent.is_probe:
            raise OcfError(ocfcodes.ERR_GENERIC, "; ".join(agent.secret_problems))
        result: int = method()
        return result
    except OcfError as exc:
        exit_reason(exc.reason)
        if action != "monitor" or exc.code not in (ocfcodes.NOT_RUNNING,):
            agent.log("ERROR" if exc.code != ocfcodes.NOT_RUNNING else "INFO",
                      f"{action}: {exc.reason}")
        return exc.code
    except deadline.ActionTimeout as exc:
        reason = f"{action} {exc}"
        exit_reason(reason)
        agent.log("ERROR", reason)
        return ocfcodes.ERR_GENERIC
    except Exception as exc:  # an agent bug must still end as an OCF error, with a reason
        reason = f"{action} failed: {type(exc).__name__}: {exc}"
        exit_reason(reason)
        import traceback

        agent.log("ERROR", reason + "\n" + traceback.format_exc())
        return ocfcodes.ERR_GENERIC
    finally:
        deadline.disarm()


def process_environ() -> dict[str, str]:
    """The environment as ``os.environ`` would give it, without importing os."""
    return {k.decode("utf-8", "surrogateescape"): v.decode("utf-8", "surrogateescape")
            for k, v in posix.environ.items()}


def redacted(text: str) -> str:
    """``text`` without the value of any secret this action resolved (Pacemaker keeps exit
    reasons in the CIB's status section, and logs go to crm_report)."""
    found = sys.modules.get("haflow.agents.secrets")
    return found.redact(text) if found is not None else text


def exit_reason(reason: str) -> None:
    """The exit reason Pacemaker records for the action (one line, as crm_mon shows it)."""
    line = " ".join(redacted(reason).split())
    sys.stderr.write(f"ocf-exit-reason:{line}\n")
    sys.stderr.flush()
