"""Input: reading tables (CSV, xlsx), validating them, locations files, geocoding addresses."""
