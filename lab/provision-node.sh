#!/bin/sh
# Provision one cluster node: packages (optional), Debian's packaged default
# cluster cleared, Pacemaker's directories, a seed CIB (optional), and pcsd
# (started by systemd where it runs; a lab node's init starts it itself). The lab
# runs it inside each node's own mount namespace; vagrant/ runs the very same
# script on each VM.
#
#   provision-node.sh [--install-packages] [--extra-packages 'PKG ...'] [--cib FILE]
#                     [--hacluster-password-file FILE] [--root DIR]
#   provision-node.sh --print-packages
#
# --install-packages installs only the packages that are missing, so a node
# that has them all (an offline box) never needs a package mirror.
# --root DIR provisions the files under DIR instead of / (the commands it runs
# still act on this system): the tests use it.
set -eu

usage() {
    echo "usage: $0 [--install-packages] [--extra-packages 'PKG ...'] [--cib FILE]" \
         "[--hacluster-password-file FILE] [--root DIR] | --print-packages" >&2
    exit 2
}

PACKAGES="pacemaker corosync pcs crmsh resource-agents fence-agents pacemaker-cli-utils iproute2"
cib="" install=no extra="" password_file="" root=""
while [ $# -gt 0 ]; do
    case "$1" in
        --cib) cib=$2; shift 2 ;;
        --install-packages) install=yes; shift ;;
        --extra-packages) extra=$2; shift 2 ;;
        --hacluster-password-file) password_file=$2; shift 2 ;;
        --root) root=$2; shift 2 ;;
        --print-packages) echo "$PACKAGES"; exit 0 ;;
        *) usage ;;
    esac
done

# systemd runs this node (a VM), not a lab node's own init
with_systemd() { [ -d "$root/run/systemd/system" ]; }

# On a slow (emulated) VM pcsd (its Ruby half above all) takes longer than
# systemd's 90 s default to start, and a start that times out fails the
# package's installation. Written before the packages are installed, so that
# first start gets it too.
allow_slow_starts() {
    with_systemd || return 0
    for unit in pcsd pcsd-ruby; do
        install -d "$root/etc/systemd/system/$unit.service.d"
        printf '%s\n' "# haflow (lab/provision-node.sh): $unit starts slowly on emulated VMs" \
            "[Service]" "TimeoutStartSec=10min" \
            > "$root/etc/systemd/system/$unit.service.d/haflow-slow-start.conf"
    done
    systemctl daemon-reload
}

install_missing_packages() {
    missing=""
    for pkg in $PACKAGES $extra; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
            || missing="$missing $pkg"
    done
    [ -n "$missing" ] || return 0
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q $missing
}

# Debian's corosync package ships a corosync.conf for a one-node cluster
# ("debian", node1 on 127.0.0.1) and starts corosync and pacemaker with it.
# pcsd then takes the node for a member of that cluster: `pcs host auth` writes
# no known-hosts and `pcs cluster setup` refuses the node. That cluster is
# stopped and removed only while its configuration is byte for byte the one the
# package shipped and its CIB holds no resources: an admin's cluster is never
# touched.
debian_default_cluster() {
    conf="$root/etc/corosync/corosync.conf"
    [ -f "$conf" ] || return 1
    shipped=$(dpkg-query -W -f='${Conffiles}\n' corosync 2>/dev/null \
        | awk '$1 == "/etc/corosync/corosync.conf" { print $2 }')
    [ -n "$shipped" ] || return 1
    [ "$(md5sum < "$conf" | cut -d' ' -f1)" = "$shipped" ] || return 1
    ! grep -qs -e '<primitive' -e '<group' -e '<clone' -e '<bundle' \
        "$root/var/lib/pacemaker/cib/cib.xml"
}

clear_debian_default_cluster() {
    debian_default_cluster || return 0
    echo "removing Debian's packaged default cluster (corosync.conf as shipped, no resources)"
    if with_systemd; then
        systemctl stop pacemaker corosync
    fi
    rm -f "$root/etc/corosync/corosync.conf" "$root"/var/lib/pacemaker/cib/cib*
}

allow_slow_starts
if [ "$install" = yes ]; then
    install_missing_packages
fi
clear_debian_default_cluster

# Pacemaker's state directories, owned the way the Debian package expects.
for d in cib pengine blackbox cores; do
    install -d -o hacluster -g haclient -m 0750 "$root/var/lib/pacemaker/$d"
done
install -d -o hacluster -g haclient -m 0770 "$root/var/log/pacemaker"
install -d -m 0755 "$root/var/log/cluster" "$root/var/lib/corosync" "$root/etc/corosync" \
    "$root/var/log/pcsd"

# pcs host auth logs in as hacluster
if [ -n "$password_file" ]; then
    printf 'hacluster:%s\n' "$(cat "$password_file")" | chpasswd
fi

# Seed the CIB only on a node that has none: a live CIB is never overwritten.
if [ -n "$cib" ] && [ ! -e "$root/var/lib/pacemaker/cib/cib.xml" ]; then
    install -m 0600 -o hacluster -g haclient "$cib" "$root/var/lib/pacemaker/cib/cib.xml"
fi

if with_systemd; then
    systemctl enable --now pcsd
fi
echo "provisioned $(hostname)"
