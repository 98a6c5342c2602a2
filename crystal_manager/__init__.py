"""CrystalMe3D Pro Manager: the license and update companion of CrystalMe3D Pro.

Layers (see docs/architecture.md): ``gui`` and ``cli`` are two faces over ``services``; the core
(``licensing``, ``updates``, ``privacy``, ``storage``, ``config``, ``net``) imports no Qt, and only
``net.gateway`` imports httpx.
"""

__version__ = "0.1.0"
