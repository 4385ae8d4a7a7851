"""Data sets: synthetic towns and the public GAP benchmark instances."""
