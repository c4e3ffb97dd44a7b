#!/bin/sh
# Form a cluster the way an admin does: authenticate pcsd on every node, then
# `pcs cluster setup`. Run once, on the first node, after provision-node.sh ran
# on every node and pcsd is up. The lab runs it in node1; vagrant/ on the first VM.
#
#   bootstrap-cluster.sh --cluster NAME --nodes "node1=ADDR node2=ADDR ..."
#                        --password-file FILE [--token MS]
# It does not start the cluster: the lab's node init starts corosync and pacemaker,
# VMs start it with pcs once fencing is configured (vagrant/configure-fencing.sh).
set -eu

usage() {
    echo "usage: $0 --cluster NAME --nodes 'NAME=ADDR ...' --password-file FILE" \
         "[--token MS]" >&2
    exit 2
}

cluster="" nodes="" password_file="" token=1000
while [ $# -gt 0 ]; do
    case "$1" in
        --cluster) cluster=$2; shift 2 ;;
        --nodes) nodes=$2; shift 2 ;;
        --password-file) password_file=$2; shift 2 ;;
        --token) token=$2; shift 2 ;;
        *) usage ;;
    esac
done
if [ -z "$cluster" ] || [ -z "$nodes" ] || [ -z "$password_file" ]; then usage; fi

names="" setup_args=""
for entry in $nodes; do
    names="$names ${entry%%=*}"
    setup_args="$setup_args ${entry%%=*} addr=${entry#*=}"
done

# shellcheck disable=SC2086  # word splitting of the node lists is intended
pcs host auth $names -u hacluster -p "$(cat "$password_file")"
# shellcheck disable=SC2086
pcs cluster setup "$cluster" $setup_args transport knet totem token="$token"
