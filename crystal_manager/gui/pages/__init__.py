"""The main window's pages: each renders facts it is given and emits what the user asked for."""
