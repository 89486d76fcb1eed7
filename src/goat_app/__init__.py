"""goat_app: settings, the composition root, the HTTP app and the command line."""
