"""The one door to the network. Only :mod:`crystal_manager.net.gateway` imports httpx."""
