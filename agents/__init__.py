"""The OCF resource agent framework and the agents that ship with haflow."""
