"""``python -m posekit.apps.batch``: the same as ``posekit-batch``."""

import sys

from posekit.apps.batch.run import main

sys.exit(main())
