"""Access to a live cluster: where tools run (Env), the CIB, quorum, crm_mon, crm_simulate."""
