"""Solving: parameters and stop criteria, the solve and rebalance drivers, progress reporting."""
