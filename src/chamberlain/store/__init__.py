"""Persistence: repositories and units of work (api.py), SQL (sql.py), in memory (memory.py)."""
