"""The service's routes, one module per group: seed, v1, health, web."""
