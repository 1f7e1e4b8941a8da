"""Will it rain tomorrow? A decision tree on a synthetic weather table, tracked from inside
the job with ``Tracker.load()`` (it finds the job's own trial component).

The weather data are generated (temperature, humidity, pressure, wind, cloud cover → rain),
so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

from sagescale import runtime
from sagescale.tracking import Tracker

FEATURES = ["temperature", "humidity", "pressure", "wind", "cloud_cover"]


def weather(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.column_stack(
        [
            rng.normal(15, 8, n),  # temperature, °C
            rng.uniform(20, 100, n),  # relative humidity, %
            rng.normal(1013, 9, n),  # pressure, hPa
            rng.gamma(2.0, 3.0, n),  # wind, m/s
            rng.uniform(0, 1, n),  # cloud cover
        ]
    )
    logit = 0.06 * (x[:, 1] - 70) - 0.15 * (x[:, 2] - 1010) + 3 * (x[:, 4] - 0.5)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return x, y


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max_depth", type=int, default=3)
    parser.add_argument("--samples", type=int, default=4000)
    args, _ = parser.parse_known_args()

    x, y = weather(args.samples)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, random_state=0)
    model = DecisionTreeClassifier(max_depth=args.max_depth, random_state=0).fit(x_tr, y_tr)
    accuracy = accuracy_score(y_te, model.predict(x_te))
    loss = log_loss(y_te, model.predict_proba(x_te))
    runtime.log_metric("test:accuracy", accuracy, step=0)
    env = runtime.load_env()
    importances = dict(zip(FEATURES, model.feature_importances_.round(4).tolist(), strict=True))
    (env.model_dir / "feature_importances.json").write_text(json.dumps(importances))
    with Tracker.load() as tracker:
        tracker.log_parameters({"samples": args.samples, "features": ",".join(FEATURES)})
        tracker.log_metric("test:log_loss", loss, step=0)
        tracker.log_metric("tree:leaves", float(model.get_n_leaves()), step=0)
        tracker.log_artifact(str(env.model_dir / "feature_importances.json"))


if __name__ == "__main__":
    main()
