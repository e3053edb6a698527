"""IAM's policy simulator: its operations, its inputs and the engine that runs a simulation."""
