"""Report stores, the nine markdown reports and their pictures (SPEC §13, §14)."""
