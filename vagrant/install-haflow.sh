#!/bin/sh
# Install haflow on a VM into /opt/haflow and register its OCF agents. Its Debian
# packages (vagrant/packages) are installed by provision-node.sh. Where the box
# has a wheelhouse (build-box.sh's /opt/haflow-wheels), pip installs from it
# alone and needs no network.
set -eu
WHEELS=/opt/haflow-wheels
[ -x /opt/haflow/bin/python ] || python3 -m venv /opt/haflow
if [ -d "$WHEELS" ]; then
    /opt/haflow/bin/pip install -q --no-index --find-links "$WHEELS" /haflow
else
    /opt/haflow/bin/pip install -q /haflow
fi
ln -sf /opt/haflow/bin/haflow /usr/local/bin/haflow
# the agents framework registers ocf:haflow:* under /usr/lib/ocf/resource.d/haflow
haflow agents install
