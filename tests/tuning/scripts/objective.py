"""A fast objective for tuning tests: one ``loss`` value per epoch.

Logs with ``sagescale.runtime.log_metric`` when it is importable, else prints ``loss=<v>``
for a metric-definition regex. ``--fail yes`` exits with an error.
"""

import argparse
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("-x", "--x", type=float, default=0.5)  # SageMaker passes -x
parser.add_argument("--kind", default="a")
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--fail", default="no")
args, _ = parser.parse_known_args()
if args.fail == "yes":
    sys.exit("asked to fail")
try:
    from sagescale.runtime import log_metric as _log_metric

    log_metric = _log_metric
except ImportError:
    log_metric = None  # type: ignore[assignment]
for epoch in range(1, args.epochs + 1):
    loss = (args.x - 0.3) ** 2 + args.x / epoch + (0.5 if args.kind == "b" else 0.0)
    if log_metric is not None:
        log_metric("loss", loss, step=epoch)
    else:
        print(f"loss={loss}", flush=True)
    time.sleep(args.sleep)
