"""The service's routes, one module per group: original, v1, health, web."""
