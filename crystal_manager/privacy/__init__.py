"""The data catalog (what may be sent), the ledger (what was sent) and the views over both."""
