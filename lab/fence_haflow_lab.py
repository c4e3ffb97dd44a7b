#!/usr/bin/python3 -tt
"""fence_haflow_lab: fence agent for the nodes of a haflow lab.

A lab node is a set of namespaces running real corosync and pacemakerd; its
"power" is its processes. ``off`` kills every process in the node's network
namespace (its volatile /run and /dev/shm go with them), ``on`` boots it
again. Written with fence-agents' own library, so options, stdin key=value
input, actions and meta-data follow the fence-agents conventions.
The installer fills in HAFLOW_PYTHON: the interpreter haflow is installed in.
"""

import atexit
import logging
import subprocess
import sys

sys.path.append("/usr/share/fence")
from fencing import (
    all_opt,
    atexit_handler,
    check_input,
    fail_usage,
    fence_action,
    process_input,
    run_delay,
    show_docs,
)

HAFLOW_PYTHON = "@HAFLOW_PYTHON@"
POWER_TIMEOUT = 30


def power(options: dict[str, str], action: str, node: str | None = None) -> str:
    argv = [HAFLOW_PYTHON, "-I", "-m", "haflow.lab.power", action, options["--lab-dir"]]
    if node is not None:
        argv.append(node)
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=POWER_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        fail_usage(f"Failed: cannot run the lab power control: {exc}")
    if result.returncode != 0:
        logging.error("lab power %s %s failed: %s", action, node or "", result.stderr.strip())
        fail_usage(f"Failed: {result.stderr.strip()}")
    stdout: str = result.stdout
    return stdout


def get_power_status(conn: object, options: dict[str, str]) -> str:
    del conn
    return power(options, "status", options["--plug"]).strip()


def set_power_status(conn: object, options: dict[str, str]) -> None:
    del conn
    if options["--action"] in ("on", "off"):
        power(options, options["--action"], options["--plug"])


def get_list(conn: object, options: dict[str, str]) -> dict[str, tuple[str, str]]:
    del conn
    outlets = {}
    for line in power(options, "list").splitlines():
        name, status = line.split()
        outlets[name] = (name, status)
    return outlets


def main() -> None:
    device_opt = ["port", "no_login", "no_password", "lab_dir"]
    atexit.register(atexit_handler)
    all_opt["lab_dir"] = {
        "getopt": ":",
        "longopt": "lab-dir",
        "help": "--lab-dir=[path]               Directory of the haflow lab",
        "required": "1",
        "shortdesc": "Directory of the haflow lab whose nodes this device fences",
        "order": 1,
    }
    options = check_input(device_opt, process_input(device_opt))
    docs = {
        "shortdesc": "Fence agent for haflow lab nodes",
        "longdesc": "fence_haflow_lab powers off, on and reboots the nodes of a haflow lab: "
        "a node is a set of Linux namespaces, and powering it off kills every process "
        "in its network namespace, as a power cut would.",
        "vendorurl": "https://github.com/ClusterLabs",
    }
    show_docs(options, docs)
    run_delay(options)
    sys.exit(fence_action(None, options, set_power_status, get_power_status, get_list))


if __name__ == "__main__":
    main()
