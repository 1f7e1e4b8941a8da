"""What every example shares: ``--backend``, ``--workspace``, ``--role``, ``--quick``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import sagescale as ss

HERE = Path(__file__).resolve().parent


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--backend", default=None, help="local (default) or sagemaker")
    p.add_argument("--workspace", default=None, help="local workspace (default ./.sagescale)")
    p.add_argument(
        "--role",
        default=os.environ.get("SAGESCALE_ROLE"),
        help="IAM role ARN for --backend sagemaker (or $SAGESCALE_ROLE)",
    )
    p.add_argument("--quick", action="store_true", help="tiny settings (the tests use them)")
    return p


def session(args: argparse.Namespace) -> ss.Session:
    """A local session with 2 processes per simulated host, or a SageMaker session."""
    if args.workspace:  # tracking and tuning records go to the same workspace
        os.environ["SAGESCALE_WORKSPACE"] = str(Path(args.workspace).resolve())
    if (args.backend or os.environ.get("SAGESCALE_BACKEND", "local")) == "sagemaker":
        return ss.Session("sagemaker", role=args.role)
    return ss.Session("local", workspace=args.workspace, processes_per_host=2)
