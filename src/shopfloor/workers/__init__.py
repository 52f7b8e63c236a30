"""CodergenBackend implementations: simulate, agent, cli and the offline repair worker."""
