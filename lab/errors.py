"""The lab's error reports: codes and wording in one place."""

from __future__ import annotations

from haflow.coordinator.exitcodes import ExitCode
from haflow.coordinator.reports import HaflowError, error
from haflow.lab.layout import MAX_NODES


def bad_name(name: str) -> HaflowError:
    return error(
        "LAB_BAD_NAME",
        f"lab name {name!r} is not valid: use a lowercase letter then up to 11 "
        "lowercase letters or digits",
        ExitCode.INVALID,
    )


def bad_node_count(count: int) -> HaflowError:
    return error(
        "LAB_BAD_NODE_COUNT",
        f"a lab has 1 to {MAX_NODES} nodes, not {count}",
        ExitCode.INVALID,
    )


def lab_exists(name: str, where: str) -> HaflowError:
    return error(
        "LAB_EXISTS",
        f"lab {name!r} already exists ({where}); use 'haflow lab down --lab {name}' first",
        ExitCode.CONFLICT,
    )


def lab_not_found(name: str) -> HaflowError:
    return error(
        "LAB_NOT_FOUND",
        f"lab {name!r} does not exist; start it with 'haflow lab up --lab {name}'",
        ExitCode.NOT_FOUND,
    )


def unknown_node(lab: str, node: str, nodes: list[str]) -> HaflowError:
    return error(
        "LAB_UNKNOWN_NODE",
        f"lab {lab!r} has no node {node!r}; its nodes are {', '.join(nodes)}",
        ExitCode.NOT_FOUND,
    )


def node_off(node: str) -> HaflowError:
    return error("LAB_NODE_OFF", f"{node} is powered off", ExitCode.CONFLICT)


def missing_tools(tools: list[str]) -> HaflowError:
    return error(
        "MISSING_DEPENDENCY",
        f"required tools not found: {', '.join(tools)}; install Debian's pacemaker, corosync, "
        "pacemaker-cli-utils, fence-agents and iproute2 (the README's first command does)",
        ExitCode.MISSING_DEPENDENCY,
    )


def not_ready(name: str, waited: float, detail: str) -> HaflowError:
    return error(
        "LAB_NOT_READY",
        f"lab {name!r} was not ready after {waited:.0f} s: {detail}",
        ExitCode.TIMEOUT,
    )


def operation_failed(what: str, detail: str) -> HaflowError:
    return error("LAB_OPERATION_FAILED", f"{what} failed: {detail}", ExitCode.ERROR)


def bad_partition(message: str) -> HaflowError:
    return error("LAB_BAD_PARTITION", message, ExitCode.INVALID)
