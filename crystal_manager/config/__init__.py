"""Settings and the trust profile (server URL and the vendor's public keys)."""
