#!/bin/sh
# Install haflow on a VM into /opt/haflow and register its OCF agents.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q python3-venv python3-dev gcc libcorosync-common-dev libcmap-dev \
    libquorum-dev libvotequorum-dev libcpg-dev libcfg-dev
[ -x /opt/haflow/bin/python ] || python3 -m venv /opt/haflow
/opt/haflow/bin/pip install -q /haflow
ln -sf /opt/haflow/bin/haflow /usr/local/bin/haflow
# the agents framework registers ocf:haflow:* under /usr/lib/ocf/resource.d/haflow
haflow agents install
