"""Dialogs: activation, machines on the license, first-run welcome."""
