"""License files as the app wrote them (see make.py): read back by every later version."""
