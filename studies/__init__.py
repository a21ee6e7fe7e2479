"""Studies behind the measurement records in docs/records (not installed, not imported by the product)."""
