"""The lab's error reports: codes and wording in one place."""

from __future__ import annotations

from haflow.coordinator.codes import Code
from haflow.coordinator.reports import HaflowError, error
from haflow.lab.layout import MAX_NODES


def bad_name(name: str) -> HaflowError:
    return error(
        Code.LAB_BAD_NAME,
        f"lab name {name!r} is not valid: use a lowercase letter then up to 11 "
        "lowercase letters or digits",
    )


def bad_node_count(count: int) -> HaflowError:
    return error(
        Code.LAB_BAD_NODE_COUNT,
        f"a lab has 1 to {MAX_NODES} nodes, not {count}",
    )


def lab_exists(name: str, where: str) -> HaflowError:
    return error(
        Code.LAB_EXISTS,
        f"lab {name!r} already exists ({where}); use 'haflow lab down --lab {name}' first",
    )


def lab_not_found(name: str) -> HaflowError:
    return error(
        Code.LAB_NOT_FOUND,
        f"lab {name!r} does not exist; start it with 'haflow lab up --lab {name}'",
    )


def unknown_node(lab: str, node: str, nodes: list[str]) -> HaflowError:
    return error(
        Code.NODE_NOT_FOUND,
        f"lab {lab!r} has no node {node!r}; its nodes are {', '.join(nodes)}",
    )


def node_off(node: str) -> HaflowError:
    return error(Code.LAB_NODE_OFF, f"{node} is powered off")


def missing_tools(tools: list[str]) -> HaflowError:
    return error(
        Code.MISSING_DEPENDENCY,
        f"required tools not found: {', '.join(tools)}; install Debian's pacemaker, corosync, "
        "pacemaker-cli-utils, fence-agents and iproute2 (the README's first command does)",
    )


def not_ready(name: str, waited: float, detail: str) -> HaflowError:
    return error(
        Code.LAB_NOT_READY,
        f"lab {name!r} was not ready after {waited:.0f} s: {detail}",
    )


def operation_failed(what: str, detail: str) -> HaflowError:
    return error(Code.OPERATION_FAILED, f"{what} failed: {detail}")


def bad_partition(message: str) -> HaflowError:
    return error(Code.LAB_BAD_PARTITION, message)
