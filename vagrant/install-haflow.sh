#!/bin/sh
# Install haflow on a VM into /opt/haflow and register its OCF agents. Its Debian
# packages (vagrant/packages) are installed by provision-node.sh. Where the box
# has a wheelhouse (build-box.sh's /opt/haflow-wheels), pip installs from it
# alone and needs no network; the box's /opt/haflow already holds every
# dependency.
set -eu
WHEELS=/opt/haflow-wheels
if [ ! -x /opt/haflow/bin/python ]; then   # a box from before build-box.sh made it
    python3 -m venv /opt/haflow
    [ ! -d "$WHEELS" ] ||
        /opt/haflow/bin/pip install -q --no-index --find-links "$WHEELS" setuptools wheel cffi
fi
if [ -d "$WHEELS" ]; then
    # the box's virtualenv already holds the build's tools (setuptools, wheel,
    # cffi): no isolated build environment, which is minutes under emulation
    /opt/haflow/bin/pip install -q --no-index --find-links "$WHEELS" --no-build-isolation /haflow
else
    /opt/haflow/bin/pip install -q /haflow
fi
ln -sf /opt/haflow/bin/haflow /usr/local/bin/haflow
# the agents framework registers ocf:haflow:* under /usr/lib/ocf/resource.d/haflow
haflow agents install
