#!/bin/sh
# Provision one cluster node: packages (optional), Pacemaker's directories, a
# seed CIB (optional), and pcsd (started by systemd where it runs; a lab node's
# init starts it itself). The lab runs it inside each node's own mount
# namespace; vagrant/ runs the very same script on each VM.
#
#   provision-node.sh [--install-packages] [--cib FILE] [--hacluster-password-file FILE]
set -eu

usage() {
    echo "usage: $0 [--install-packages] [--cib FILE] [--hacluster-password-file FILE]" >&2
    exit 2
}

cib="" install=no password_file=""
while [ $# -gt 0 ]; do
    case "$1" in
        --cib) cib=$2; shift 2 ;;
        --install-packages) install=yes; shift ;;
        --hacluster-password-file) password_file=$2; shift 2 ;;
        *) usage ;;
    esac
done

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
install -d -m 0755 /var/log/cluster /var/lib/corosync /etc/corosync /var/log/pcsd

# pcs host auth logs in as hacluster
if [ -n "$password_file" ]; then
    printf 'hacluster:%s\n' "$(cat "$password_file")" | chpasswd
fi

# Seed the CIB only on a node that has none: a live CIB is never overwritten.
if [ -n "$cib" ] && [ ! -e /var/lib/pacemaker/cib/cib.xml ]; then
    install -m 0600 -o hacluster -g haclient "$cib" /var/lib/pacemaker/cib/cib.xml
fi

if [ -d /run/systemd/system ]; then
    systemctl enable --now pcsd
fi
echo "provisioned $(hostname)"
