#!/bin/sh
# Fencing for the Vagrant cluster, then start it. Watchdog-based SBD: a node that
# loses quorum, or whose pacemaker hangs, is reset by its own watchdog; pacemaker
# waits stonith-watchdog-timeout (2x the watchdog timeout) before it treats a lost
# node as reset. It needs no shared disk and no credentials to the hypervisor, so
# it works the same on libvirt and VirtualBox. pcs requires the cluster stopped
# while it enables sbd.
set -eu
pcs stonith sbd enable --watchdog=/dev/watchdog SBD_WATCHDOG_TIMEOUT=5
pcs cluster start --all --wait
pcs cluster enable --all
pcs property set stonith-watchdog-timeout=10s
pcs property set stonith-enabled=true
# haflow's step "retries" count failed starts (migration-threshold); by default
# one failed start would ban the node for good
pcs property set start-failure-is-fatal=false
haflow agents install --cluster   # the alert that rolls workflows back
pcs status
