"""The lab: a real multi-node Pacemaker + Corosync cluster on one machine."""
