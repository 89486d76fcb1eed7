"""goat_app: settings, the composition root, the HTTP app and the command line.

Start from ``goat_app.compose`` (what a process runs) and ``goat_app.testing`` (the HTTP
app over the in-memory adapters, for tests).
"""

__all__: list[str] = []
