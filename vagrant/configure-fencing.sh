#!/bin/sh
# Fencing for the Vagrant cluster, then start it. Watchdog-based SBD: a node that
# loses quorum, or whose pacemaker hangs, is reset by its own watchdog; pacemaker
# waits stonith-watchdog-timeout (2x the watchdog timeout) before it treats a lost
# node as reset. It needs no shared disk and no credentials to the hypervisor, so
# it works the same on libvirt and VirtualBox. pcs requires the cluster stopped
# while it enables sbd. PCS_REQUEST_TIMEOUT: pcs's timeout for each request to
# another node (its default, 60 s, is too short on emulated VMs).
# SBD_WATCHDOG_TIMEOUT: sbd's watchdog timeout in seconds (default 5).
set -eu
timeout=${PCS_REQUEST_TIMEOUT:-60}
watchdog_timeout=${SBD_WATCHDOG_TIMEOUT:-5}
pcs --request-timeout="$timeout" stonith sbd enable watchdog=/dev/watchdog \
    SBD_WATCHDOG_TIMEOUT="$watchdog_timeout"
pcs --request-timeout="$timeout" cluster start --all --wait=900
pcs --request-timeout="$timeout" cluster enable --all
pcs property set stonith-watchdog-timeout=$(( 2 * watchdog_timeout ))s
pcs property set stonith-enabled=true
# haflow's step "retries" count failed starts (migration-threshold); by default
# one failed start would ban the node for good
pcs property set start-failure-is-fatal=false
haflow agents install --cluster   # the alert that rolls workflows back
pcs status
