"""``python -m hwsim.cli ARGS``: the same as ``hwsim ARGS``."""

import sys

from hwsim.cli import main

sys.exit(main())
