"""The same suite against every adapter of a port: in-memory, SQLite and PostgreSQL."""
