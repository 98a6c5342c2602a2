"""The command-line face: the same services as the GUI, text or ``--json`` out."""
