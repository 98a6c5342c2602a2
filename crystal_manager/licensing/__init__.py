"""Licensing core: key format, fingerprint, signed responses and leases, grace and clock. No Qt."""
