"""The use cases both faces call: status, licensing, updates, privacy views. No Qt, no printing."""
