"""The commands: the demo (``posekit``), batch (``posekit-batch``), evaluation (``posekit-eval``) and set-up (``posekit-fetch``), on shared options."""
