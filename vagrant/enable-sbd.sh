#!/bin/sh
# Prepare watchdog-based (diskless) SBD on this node: a watchdog device (the sbd
# package comes with vagrant/packages). softdog stands in for a hardware
# watchdog. configure-fencing.sh then lets pcs configure and enable sbd on every
# node at once.
set -eu
echo softdog > /etc/modules-load.d/softdog.conf
modprobe softdog
