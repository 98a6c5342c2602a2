"""Signed updates of CrystalMe3D Pro: TUF metadata, verified resumable downloads, side-by-side installs.

No Qt here; the GUI and the CLI reach it through ``services/update_service.py``.
"""
