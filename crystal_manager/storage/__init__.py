"""Where the app keeps things: paths, atomic state files, secrets."""
