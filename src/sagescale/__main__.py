"""``python -m sagescale`` runs the CLI."""

import sys

from sagescale.cli import main

sys.exit(main())
