"""Desktop-integration facts and files that need no Qt: display detection, autostart entries."""
