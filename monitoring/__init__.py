"""Background collection of sizes, reachability, health and connections; monitoring pages later."""
