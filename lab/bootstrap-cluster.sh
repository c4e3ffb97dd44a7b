#!/bin/sh
# Form a cluster the way an admin does: authenticate pcsd on every node, then
# `pcs cluster setup`. Run once, on one node, after provision-node.sh ran on
# every node. The lab runs it in node1; vagrant/ on the last VM.
#
#   bootstrap-cluster.sh --cluster NAME --nodes "node1=ADDR node2=ADDR ..."
#                        --password-file FILE [--token MS] [--wait SECONDS]
#                        [--request-timeout SECONDS] [--setup-attempts N]
#
# --wait: how long to wait for every node to be ready, that is, for its pcsd to
# accept hacluster's password (Vagrant sets the password as a node's last
# provisioning step, and may provision the nodes in any order or all at once).
# Without it, every node must be ready now. --request-timeout: pcs's timeout
# for each request to another node's pcsd (pcs's default is 60 s), for the
# commands that take one; slow VMs need more. --setup-attempts: how many times
# `pcs cluster setup` is run when it fails on a request timeout (default 3).
# It does not start the cluster: the lab's node init starts corosync and pacemaker,
# VMs start it with pcs once fencing is configured (vagrant/configure-fencing.sh).
set -eu

usage() {
    echo "usage: $0 --cluster NAME --nodes 'NAME=ADDR ...' --password-file FILE" \
         "[--token MS] [--wait SECONDS] [--request-timeout SECONDS] [--setup-attempts N]" >&2
    exit 2
}

cluster="" nodes="" password_file="" token=1000 wait=0 request_timeout=60 setup_attempts=3
while [ $# -gt 0 ]; do
    case "$1" in
        --cluster) cluster=$2; shift 2 ;;
        --nodes) nodes=$2; shift 2 ;;
        --password-file) password_file=$2; shift 2 ;;
        --token) token=$2; shift 2 ;;
        --wait) wait=$2; shift 2 ;;
        --request-timeout) request_timeout=$2; shift 2 ;;
        --setup-attempts) setup_attempts=$2; shift 2 ;;
        *) usage ;;
    esac
done
if [ -z "$cluster" ] || [ -z "$nodes" ] || [ -z "$password_file" ]; then usage; fi

names="" setup_args=""
for entry in $nodes; do
    names="$names ${entry%%=*}"
    setup_args="$setup_args ${entry%%=*} addr=${entry#*=}"
done

# Authenticate every node at once; when that fails, each node alone, so the
# nodes that are ready are kept and only those that are not (pcsd not up yet, or
# hacluster's password not set yet) are tried again, until the deadline.
auth() {
    # shellcheck disable=SC2086  # word splitting of the node list is intended
    pcs --request-timeout="$request_timeout" host auth $1 -u hacluster \
        -p "$(cat "$password_file")" 2>&1
}
deadline=$(( $(date +%s) + wait ))
pending=$names
until [ -z "$pending" ] || auth "$pending" >/dev/null; do
    still=""
    for name in $pending; do
        out=$(auth "$name") || { still="$still $name"; last_error="$name: $out"; }
    done
    pending=$still
    [ -n "$pending" ] || break
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "bootstrap-cluster: nodes not ready after ${wait}s:$pending" >&2
        echo "bootstrap-cluster: last answer from $last_error" >&2
        exit 1
    fi
    echo "bootstrap-cluster: waiting for$pending"
    sleep 5
done
echo "bootstrap-cluster: authorized$names"

# pcs says "Authorized" but keeps no token when it takes this node for a member
# of another cluster (Debian's packaged default one): say so here, not later as
# "hosts are not known to pcs"
for name in $names; do
    grep -qs "\"$name\"" /var/lib/pcsd/known-hosts \
        || { echo "bootstrap-cluster: pcs host auth kept no token for $name" \
                  "(/var/lib/pcsd/known-hosts): is this node in another cluster?" >&2
             exit 1; }
done
# pcs cluster setup takes no --request-timeout: its requests time out after pcs's
# fixed 60 s. Its first one asks every node to destroy any cluster it has, which
# an emulated VM can take longer than that to answer (the node still finishes
# it), and pcs configures nothing until every node has answered. So a setup that
# timed out is run again, a bounded number of times, after a pause for the
# nodes to finish. Any other failure is final; if a timeout came after a node
# got its configuration, pcs refuses the rerun naming that node, as it should.
attempt=1
while :; do
    # shellcheck disable=SC2086  # word splitting of the node list is intended
    if out=$(pcs cluster setup "$cluster" $setup_args transport knet totem token="$token" 2>&1)
    then
        printf '%s\n' "$out"
        break
    fi
    printf '%s\n' "$out" >&2
    if ! printf '%s\n' "$out" | grep -qi -e 'timed out' -e 'timeout'; then
        exit 1
    fi
    if [ "$attempt" -ge "$setup_attempts" ]; then
        echo "bootstrap-cluster: pcs cluster setup timed out $attempt times" >&2
        exit 1
    fi
    attempt=$((attempt + 1))
    echo "bootstrap-cluster: pcs cluster setup timed out; attempt $attempt of $setup_attempts"
    sleep 10
done
