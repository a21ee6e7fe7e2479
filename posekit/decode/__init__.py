"""Maps to people: the project's decoder, its stages (peaks, limbs, assembly, completion, refinement, rescoring) and the decoder registry."""
