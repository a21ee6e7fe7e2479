"""``posekit-batch``: pose extraction over many files on Ray Data (run, results, manifest, tracks, table)."""
