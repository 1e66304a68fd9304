"""Query statistics, activity, lock waits, tenants and health (issue 6). Not built yet."""
