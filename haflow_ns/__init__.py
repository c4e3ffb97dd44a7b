"""haflow: highly available orchestration workflows on Pacemaker and Corosync."""

__version__ = "0.1.0"
