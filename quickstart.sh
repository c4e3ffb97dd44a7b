#!/bin/sh
# Set up everything haflow needs on a Debian 12 machine (as root), then either
# run the demo on a local lab cluster or run the whole test suite.
#
#   ./quickstart.sh demo    # a 3-node lab: crm_mon, a node crash, failover, teardown
#   ./quickstart.sh test    # lint + every test tier (what CI runs)
set -eu
cd "$(dirname "$0")"

DEBIAN_PACKAGES="pacemaker corosync pcs crmsh resource-agents fence-agents
  pacemaker-cli-utils iproute2 util-linux python3 python3-venv python3-dev gcc libxml2-utils
  libcorosync-common-dev libcmap-dev libquorum-dev libvotequorum-dev libcpg-dev
  libcfg-dev openssl shellcheck vagrant graphviz chromium firefox-esr"
VENV=${HAFLOW_VENV:-.venv}

die() { echo "quickstart: $*" >&2; exit 1; }

install_debian_packages() {
    missing=""
    for pkg in $DEBIAN_PACKAGES; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
            || missing="$missing $pkg"
    done
    [ -z "$missing" ] && return 0
    [ "$(id -u)" -eq 0 ] || die "run as root to install:$missing"
    echo "quickstart: installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
}

install_haflow() {
    # Debian's own interpreter: what cluster nodes have, and readable by every user
    [ -x "$VENV/bin/python" ] || /usr/bin/python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e '.[test]'
    # an editable install compiles nothing: where bytecode cannot be written (a
    # read-only tree, PYTHONDONTWRITEBYTECODE) every agent action and every haflow
    # command would compile its modules again
    "$VENV/bin/python" -m compileall -q -j 0 encoding agents coordinator lab cib_templates haflow_ns
}

run_tests() {
    sh .ci/lint
    set +e
    # lab tests mostly wait on cluster timeouts: three workers, each test file (and
    # each half of the fault suite) in one of them, with labs of its own
    "$VENV/bin/python" -m pytest -n "${HAFLOW_TEST_WORKERS:-3}" --dist loadgroup "$@"
    rc=$?
    set -e
    # pytest says 5 when it collected no test: that must never pass as green
    [ "$rc" -eq 5 ] && die "pytest ran no test"
    return "$rc"
}

[ $# -ge 1 ] || die "usage: $0 demo|test [pytest arguments]"
command=$1
shift
[ "$(id -u)" -eq 0 ] || die "run as root: the lab creates namespaces and mounts"
install_debian_packages
install_haflow
case "$command" in
    demo) exec "$VENV/bin/python" -m haflow.lab.demo "$@" ;;
    test) run_tests "$@" ;;
    *) die "usage: $0 demo|test [pytest arguments]" ;;
esac
