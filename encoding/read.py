"""Readers over a CIB: the workflows in it, their resources, root, roles, outputs, events.

Written against the ElementTree API (element.py), so that the agents (stdlib
``xml.etree``) and the coordinator (lxml) read the CIB through the same code;
no XPath, which only lxml has. A ``cib`` argument is the whole CIB or its
resources section (what ``cibadmin --query --scope resources`` returns).

The resources of a workflow are decided one way, by id (``owned_by``): an
element belongs to workflow WF when its id is ``WF`` (its tag) or starts with
``WF.``. Names never contain ``.``, so no other workflow's id can match, and
every element the compiler writes has such an id: steps of foreign agents too,
which carry no ``workflow`` parameter, and constraints and the tag, which have
no agent at all. It is also how Pacemaker names a workflow's resources
wherever haflow meets them without their configuration: crm_mon, the status
section's operation history, an alert's ``CRM_alert_rsc``.
"""

from __future__ import annotations

from haflow.encoding import live
from haflow.encoding.ids import (
    ORDER,
    PROVIDER,
    ROOT_AGENT,
    STEP_DEFAULTS_SET,
    SWEEP_SET_SUFFIX,
    root_id,
    workflow_of,
)
from haflow.encoding.meta import (
    EFFECT_META,
    EFFECT_PRESENT,
    EVENT_META_PREFIX,
    FAILURE_POLICY_META,
    MIGRATION_THRESHOLD,
    OUTPUT_META_PREFIX,
    PACEMAKER_INFINITY,
    PARAM_SUBMISSION,
    POLICY_ROLLBACK,
    STEP_AGENTS,
    STEP_MIGRATION_THRESHOLD,
    STOPPED,
    TARGET_ROLE,
)
from haflow.encoding.record import Event, parse_value
from haflow.encoding.value import from_cib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from haflow.encoding.element import E

# the configuration's sections that hold a workflow's elements
SECTIONS = ("resources", "constraints", "tags")


def _resources(cib: E) -> E | None:
    return cib if cib.tag == "resources" else cib.find("configuration/resources")


def owned_by(element_id: str, workflow: str) -> bool:
    """Whether the element with this id belongs to ``workflow`` (module docstring)."""
    return workflow_of(element_id) == workflow


def is_root(primitive: E) -> bool:
    """Whether ``primitive`` is a workflow's root (agent ocf:haflow:workflow)."""
    return (primitive.get("class") == "ocf" and primitive.get("provider") == PROVIDER
            and primitive.get("type") == ROOT_AGENT)


def is_haflow_step(primitive: E) -> bool:
    """Whether ``primitive`` is a step of one of haflow's agents (not a root)."""
    return primitive.get("provider") == PROVIDER and primitive.get("type") != ROOT_AGENT


def workflows(cib: E) -> list[str]:
    """Every workflow in the CIB (one root each), sorted."""
    resources = _resources(cib)
    if resources is None:
        return []
    return sorted({workflow_of(p.get("id", "")) for p in resources.iter("primitive")
                   if is_root(p)})


def resources_of(cib: E, workflow: str) -> list[E]:
    """The workflow's primitives: its root and its steps."""
    resources = _resources(cib)
    if resources is None:
        return []
    return [p for p in resources.findall("primitive") if owned_by(p.get("id", ""), workflow)]


def elements_of(cib: E, workflow: str) -> list[E]:
    """The workflow's top-level resources, constraints and tag in the CIB's configuration."""
    found: list[E] = []
    for section in SECTIONS:
        holder = cib.find(f"configuration/{section}")
        if holder is not None:
            found += [e for e in holder if owned_by(e.get("id", ""), workflow)]
    return found


def primitive(cib: E, rid: str) -> E | None:
    """The top-level primitive ``rid``."""
    resources = _resources(cib)
    if resources is None:
        return None
    return next((p for p in resources.findall("primitive") if p.get("id") == rid), None)


def root_of(cib: E, workflow: str) -> E | None:
    return primitive(cib, root_id(workflow))


def configured_meta(element: E) -> dict[str, str]:
    """The meta attributes as configured: a root's sweep set (ids.SWEEP_SET_SUFFIX) is a
    passing override of the alert agent, which does not make an aborted workflow a
    running one."""
    sweep = element.get("id", "") + SWEEP_SET_SUFFIX
    return {n.get("name", ""): n.get("value", "")
            for m in element.findall("meta_attributes") if m.get("id") != sweep
            for n in m.findall("nvpair")}


def _of_step_agent(primitive: E) -> bool:
    """Whether the shared step defaults' rule (ids.STEP_DEFAULTS_SET) matches ``primitive``."""
    return (primitive.get("class") == "ocf" and primitive.get("provider") == PROVIDER
            and primitive.get("type") in STEP_AGENTS)


def failure_policy(cib: E, primitive: E) -> str | None:
    """A step's failure policy: its own meta attribute, else rollback for a step of
    haflow's agents in a workflow that has a root (the compiler writes the policy only
    where it is not rollback); None for any other resource."""
    own = configured_meta(primitive).get(FAILURE_POLICY_META)
    if own is not None:
        return own
    rid = primitive.get("id", "")
    if _of_step_agent(primitive) and "." in rid and root_of(cib, workflow_of(rid)) is not None:
        return POLICY_ROLLBACK
    return None


def _threshold(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:  # INFINITY, or nothing Pacemaker would take as a number
        return PACEMAKER_INFINITY
    # 0 turns the threshold off, as INFINITY does
    return min(value, PACEMAKER_INFINITY) if value > 0 else PACEMAKER_INFINITY


def migration_threshold(cib: E, primitive: E) -> int:
    """The migration-threshold Pacemaker applies to ``primitive``: its own, else for a
    resource of haflow's step agents the shared step defaults' (as the CIB has them,
    else as the compiler writes them), else Pacemaker's default, INFINITY."""
    own = _threshold(configured_meta(primitive).get(MIGRATION_THRESHOLD))
    if own is not None:
        return own
    if not _of_step_agent(primitive):
        return PACEMAKER_INFINITY
    shared = cib.find(f"configuration/rsc_defaults/meta_attributes[@id='{STEP_DEFAULTS_SET}']")
    found = None if shared is None else next(
        (n.get("value") for n in shared.findall("nvpair")
         if n.get("name") == MIGRATION_THRESHOLD), None)
    return _threshold(found) or STEP_MIGRATION_THRESHOLD


def params(element: E) -> dict[str, str]:
    """The instance attributes (parameters) of a primitive."""
    return {n.get("name", ""): n.get("value", "")
            for n in element.findall("instance_attributes/nvpair")}


def target_role(cib: E, workflow: str) -> str | None:
    """The root's target-role (None when unset or when there is no root)."""
    root = root_of(cib, workflow)
    return None if root is None else configured_meta(root).get(TARGET_ROLE)


def aborted(cib: E, workflow: str) -> bool:
    """Whether the workflow is aborted (its root is stopped on purpose)."""
    return (target_role(cib, workflow) or "").lower() == STOPPED.lower()


def submission_of(cib: E, workflow: str) -> str | None:
    """The submission id the workflow's steps carry (None if it has no haflow step)."""
    for p in resources_of(cib, workflow):
        found = params(p).get(PARAM_SUBMISSION)
        if found is not None:
            return found
    return None


def outputs(meta: Mapping[str, str]) -> dict[str, str]:
    """A step's outputs (key -> value) in their durable copy, its meta attributes
    (``configured_meta``); ``step_outputs`` reads the live ones first. Empty once the
    copy's effect flag says undone (""), as a checkpoint leaves them: cleared in place
    (agents/checkpoint.py)."""
    if meta.get(EFFECT_META) == "":
        return {}
    start = len(OUTPUT_META_PREFIX)
    return {k[start:]: from_cib(v) for k, v in meta.items() if k.startswith(OUTPUT_META_PREFIX)}


def step_outputs(primitive: E, live_state: Mapping[str, str]) -> dict[str, str]:
    """A step's outputs: the live ones on ``<status>`` (``live_state``, from
    ``live.attributes``), else their durable copy in its meta attributes."""
    found = live.outputs(live_state, primitive.get("id", ""))
    return outputs(configured_meta(primitive)) if found is None else found


def effect_flagged(element: E, live_state: Mapping[str, str]) -> bool:
    """Whether a step's effect may still exist: its live flag on ``<status>`` is set
    (pending or present; "" once undone), or, without one, its durable copy
    meta.EFFECT_META is (pending or present; "" once a checkpoint copied an undo)."""
    value = live.effect(live_state, element.get("id", ""))
    if value is not None:
        return bool(value)
    return any(n.get("name") == EFFECT_META and n.get("value")
               for n in element.findall("meta_attributes/nvpair"))


def durable_copies(cib: E) -> dict[str, live.Durable]:
    """Every configured primitive's durable copy of its live state, by id: the effect
    flag (None when unset), the outputs and the keys of its history records (for
    live.compaction_patch)."""
    found: dict[str, live.Durable] = {}
    start = len(EVENT_META_PREFIX)
    for primitive in cib.iter("primitive"):
        meta = configured_meta(primitive)
        records = frozenset(k[start:] for k in meta if k.startswith(EVENT_META_PREFIX))
        found[primitive.get("id", "")] = (meta.get(EFFECT_META), outputs(meta), records)
    return found


def checkpoint_pending(resources: Iterable[E], workflow: str,
                       live_state: Mapping[str, str]) -> bool:
    """Whether ``workflow``'s live state (``live_state``: live.attributes) says what the
    durable copy in its ``resources`` (resources_of) does not yet: a run's checkpoint
    still to come (agents/checkpointer.py defers it a moment), or one its node took
    along when it was fenced."""
    names = live.of_workflow(live_state, workflow)
    if not names:
        return False
    durable: dict[str, live.Durable] = {}
    for element in resources:
        durable.update(durable_copies(element))
    return not all(live.droppable(n, live_state[n], durable) for n in names)


def done_steps(cib: E, workflow: str) -> int:
    """How many of the workflow's haflow steps are done (effect flag present: the live
    one, else its durable copy)."""
    live_state = live.attributes(cib)
    count = 0
    for primitive in resources_of(cib, workflow):
        if is_haflow_step(primitive):
            flag = live.effect(live_state, primitive.get("id", ""))
            if flag is None:
                flag = configured_meta(primitive).get(EFFECT_META)
            count += flag == EFFECT_PRESENT
    return count


def flagged_steps(cib: E, workflow: str) -> list[E]:
    """The workflow's haflow steps whose effect may still exist (``cib`` with its
    ``<status>`` element, where the live flags are)."""
    live_state = live.attributes(cib)
    return [p for p in resources_of(cib, workflow)
            if is_haflow_step(p) and effect_flagged(p, live_state)]


def order_dependencies(orders: Iterable[E]) -> dict[str, set[str]]:
    """resource -> the resources it starts after, from these ``rsc_order``s (pairs or
    resource sets, sequential or not)."""
    deps: dict[str, set[str]] = {}
    for order in orders:
        first, then = order.get("first"), order.get("then")
        if first and then:
            deps.setdefault(then, set()).add(first)
            continue
        previous: list[str] = []
        for rset in order.findall("resource_set"):
            refs = [r.get("id", "") for r in rset.findall("resource_ref")]
            sequential = rset.get("sequential", "true") == "true"
            for i, ref in enumerate(refs):
                before = set(previous)
                if sequential and i:
                    before = {refs[i - 1]}
                deps.setdefault(ref, set()).update(before)
            if refs:
                previous = [refs[-1]] if sequential else refs
    return deps


def dependencies(cib: E, workflow: str) -> dict[str, set[str]]:
    """resource -> the resources of ``workflow`` it starts after (its compiled orders)."""
    prefix = f"{root_id(workflow)}.{ORDER}."
    return order_dependencies(o for o in cib.findall("configuration/constraints/rsc_order")
                              if o.get("id", "").startswith(prefix))


def dependents(deps: Mapping[str, set[str]], rid: str) -> list[str]:
    """The resources that start after ``rid`` directly (whose undo must come first)."""
    return sorted(then for then, firsts in deps.items() if rid in firsts)


def undo_order(deps: Mapping[str, set[str]], rids: Iterable[str]) -> list[str]:
    """``rids`` in an order fit for undoing them: every step after the steps that
    depend on it, directly or through steps not in ``rids``."""
    wanted = list(rids)
    after: dict[str, set[str]] = {}  # rid -> every resource it starts after

    def ancestors(rid: str, seen: set[str]) -> set[str]:
        if rid not in after:
            after[rid] = set()
            for first in deps.get(rid, ()):
                if first not in seen:
                    after[rid] |= {first} | ancestors(first, seen | {rid})
        return after[rid]

    depth = {rid: len(ancestors(rid, set())) for rid in wanted}
    return sorted(wanted, key=lambda r: (-depth[r], wanted.index(r)))


def events(cib: E, workflow: str) -> list[Event]:
    """The workflow's history (record.py), oldest first: the records in its root's
    history set and the live ones on ``<status>`` (live.py), each key once."""
    root = root_of(cib, workflow)
    if root is None:
        return []
    start = len(EVENT_META_PREFIX)
    values = {n.get("name", "")[start:]: n.get("value", "")
              for n in root.findall("meta_attributes/nvpair")
              if n.get("name", "").startswith(EVENT_META_PREFIX)}
    for key, value in live.events(live.attributes(cib), workflow).items():
        values.setdefault(key, value)
    found = [e for v in values.values() if (e := parse_value(v)) is not None]
    return sorted(found, key=lambda e: e.time)


def _uname_test(expr: E, node: str) -> bool | None:
    if expr.get("attribute") != "#uname":
        return None  # other node attributes: not evaluated here
    op, value = expr.get("operation"), expr.get("value")
    return {"eq": node == value, "ne": node != value}.get(op or "")


def banned_by(locations: Iterable[E], node: str) -> bool:
    """Whether one of these rsc_locations (of one resource) keeps it off ``node``: a
    -INFINITY rule on node names (a step's ``nodes``/``avoid``); rules on other
    attributes are not evaluated (not banned)."""
    for loc in locations:
        for rule in loc.findall("rule"):
            if rule.get("score") not in ("-INFINITY", "-infinity"):
                continue
            tests = [_uname_test(e, node) for e in rule.findall("expression")]
            if not tests or any(t is None for t in tests):
                continue
            if (all(tests) if rule.get("boolean-op", "and") == "and" else any(tests)):
                return True
    return False


def banned(cib: E, rsc: str, node: str) -> bool:
    """Whether ``rsc``'s own location rules keep it off ``node`` (banned_by)."""
    return banned_by((loc for loc in cib.findall("configuration/constraints/rsc_location")
                      if loc.get("rsc") == rsc), node)
