"""The ``sagescale`` command line: ``sagescale --help`` lists the commands.

Exit codes: 0 success, 1 a job or tuning job failed, 2 bad input (one line naming the field
and the rule, no traceback).
"""

from __future__ import annotations

from sagescale.cli._app import app, main

__all__ = ["app", "main"]
