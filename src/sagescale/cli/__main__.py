"""``python -m sagescale.cli``: the ``sagescale`` command."""

import sys

from sagescale.cli import main

sys.exit(main())
