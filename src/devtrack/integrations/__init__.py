"""The integration system: contract, registry, manager and the built-in plugins."""
