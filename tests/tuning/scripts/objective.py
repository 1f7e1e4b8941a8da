"""A fast objective for tuning tests: one ``loss`` value per epoch.

Logs with ``sagescale.runtime.log_metric`` when it is importable, else prints ``loss=<v>``
for a metric-definition regex. ``--fail yes`` exits with an error. ``--hold DIR``: the third
job started with that folder, and every later one, waits after epoch 1 until ``DIR/release``
exists (up to 3 minutes), so a test can act while a job is running on however slow a machine.
"""

import argparse
import os
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("-x", "--x", type=float, default=0.5)  # SageMaker passes -x
parser.add_argument("--kind", default="a")
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--fail", default="no")
parser.add_argument("--hold", default="")
args, _ = parser.parse_known_args()
held = False
if args.hold:
    ticket = 0
    while True:  # this job's number among those started with this folder
        try:
            os.close(os.open(os.path.join(args.hold, f"job-{ticket}"), os.O_CREAT | os.O_EXCL))
            break
        except FileExistsError:
            ticket += 1
    held = ticket >= 2
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
    deadline = time.monotonic() + 180
    release = os.path.join(args.hold, "release")
    while held and epoch == 1 and not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(args.sleep)
