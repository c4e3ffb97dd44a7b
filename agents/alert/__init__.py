"""The alert agent (Pacemaker runs it on every event) and its node-local spool."""
