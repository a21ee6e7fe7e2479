"""Building and fitting what the product ships (not installed): the int8 model, the rescoring weights, synthetic maps."""
