"""What-if queries on simulated runs: compare, whatif, realtime, cost (plain dataclasses, no printing)."""
