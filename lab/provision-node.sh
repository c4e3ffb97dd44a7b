#!/bin/sh
# Provision one cluster node: packages (optional), directories, corosync.conf,
# the corosync authkey and a seed CIB. The lab runs it inside each node's own
# mount namespace; vagrant/ runs the very same script on each VM.
#
#   provision-node.sh --cluster NAME --nodes "node1=ADDR node2=ADDR ..."
#                     --authkey FILE [--token MS] [--cib FILE] [--install-packages]
set -eu

usage() {
    echo "usage: $0 --cluster NAME --nodes 'NAME=ADDR ...' --authkey FILE" \
         "[--token MS] [--cib FILE] [--install-packages]" >&2
    exit 2
}

cluster="" nodes="" authkey="" token=1000 cib="" install=no
while [ $# -gt 0 ]; do
    case "$1" in
        --cluster) cluster=$2; shift 2 ;;
        --nodes) nodes=$2; shift 2 ;;
        --authkey) authkey=$2; shift 2 ;;
        --token) token=$2; shift 2 ;;
        --cib) cib=$2; shift 2 ;;
        --install-packages) install=yes; shift ;;
        *) usage ;;
    esac
done
if [ -z "$cluster" ] || [ -z "$nodes" ] || [ -z "$authkey" ]; then usage; fi

PACKAGES="pacemaker corosync pcs crmsh resource-agents fence-agents pacemaker-cli-utils iproute2"
if [ "$install" = yes ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q $PACKAGES
fi

# Pacemaker's state directories, owned the way the Debian package expects.
for d in cib pengine blackbox cores; do
    install -d -o hacluster -g haclient -m 0750 "/var/lib/pacemaker/$d"
done
install -d -o hacluster -g haclient -m 0770 /var/log/pacemaker
install -d -m 0755 /var/log/cluster /var/lib/corosync /etc/corosync

install -m 0400 -o root -g root "$authkey" /etc/corosync/authkey

two_node=0
count=0
for entry in $nodes; do count=$((count + 1)); done
[ "$count" -eq 2 ] && two_node=1

{
    echo "# written by haflow provision-node.sh"
    echo "totem {"
    echo "    version: 2"
    echo "    cluster_name: $cluster"
    echo "    transport: knet"
    echo "    token: $token"
    echo "    crypto_cipher: aes256"
    echo "    crypto_hash: sha256"
    echo "}"
    echo "nodelist {"
    id=0
    for entry in $nodes; do
        id=$((id + 1))
        echo "    node {"
        echo "        ring0_addr: ${entry#*=}"
        echo "        name: ${entry%%=*}"
        echo "        nodeid: $id"
        echo "    }"
    done
    echo "}"
    echo "quorum {"
    echo "    provider: corosync_votequorum"
    [ "$two_node" -eq 1 ] && echo "    two_node: 1"
    echo "}"
    echo "logging {"
    echo "    to_logfile: yes"
    echo "    logfile: /var/log/cluster/corosync.log"
    echo "    to_syslog: no"
    echo "    to_stderr: no"
    echo "    timestamp: hires"
    echo "}"
} > /etc/corosync/corosync.conf.new
mv /etc/corosync/corosync.conf.new /etc/corosync/corosync.conf

# Seed the CIB only on a node that has none: a live CIB is never overwritten.
if [ -n "$cib" ] && [ ! -e /var/lib/pacemaker/cib/cib.xml ]; then
    install -m 0600 -o hacluster -g haclient "$cib" /var/lib/pacemaker/cib/cib.xml
fi
echo "provisioned $(hostname) for cluster $cluster"
