#!/bin/sh
# Prepare watchdog-based (diskless) SBD on this node: the package and a
# watchdog device. softdog stands in for a hardware watchdog. configure-fencing.sh
# then lets pcs configure and enable sbd on every node at once.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q sbd
echo softdog > /etc/modules-load.d/softdog.conf
modprobe softdog
