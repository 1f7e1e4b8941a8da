"""A gradient-boosted-trees training script with XGBoost's four classic hyperparameters.

XGBoost itself is optional here: the script uses scikit-learn's histogram gradient boosting
(the same algorithm family) with XGBoost's names mapped onto it — ``eta`` → learning rate,
``min_child_weight`` → minimum samples per leaf, ``alpha`` → L2 regularisation,
``max_depth`` → depth. It prints XGBoost-style ``validation-rmse`` lines every round and
logs ``validation:rmse`` with ``sagescale.runtime.log_metric`` (so early stopping sees it).
Data: scikit-learn's bundled diabetes data set (nothing is downloaded).
"""

from __future__ import annotations

import argparse
import pickle
import warnings

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split

from sagescale import runtime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--eta", type=float, default=0.3)
    parser.add_argument("--min_child_weight", type=float, default=1.0)
    parser.add_argument("--alpha", type=float, default=0.0)
    parser.add_argument("--max_depth", type=int, default=6)
    parser.add_argument("--num_round", type=int, default=10)
    parser.add_argument("--trees_per_round", type=int, default=10)
    args, _ = parser.parse_known_args()

    x, y = load_diabetes(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.3, random_state=0)
    model = HistGradientBoostingRegressor(
        learning_rate=max(args.eta, 1e-3),
        min_samples_leaf=max(1, round(args.min_child_weight)),
        l2_regularization=args.alpha,
        max_depth=args.max_depth,
        warm_start=True,
        early_stopping=False,
        random_state=0,
    )
    for rnd in range(args.num_round):
        model.max_iter = (rnd + 1) * args.trees_per_round
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(x_tr, y_tr)
        train_rmse = float(np.sqrt(np.mean((model.predict(x_tr) - y_tr) ** 2)))
        val_rmse = float(np.sqrt(np.mean((model.predict(x_va) - y_va) ** 2)))
        print(f"[{rnd}]#011train-rmse:{train_rmse:.5f}#011validation-rmse:{val_rmse:.5f}")
        runtime.log_metric("validation:rmse", val_rmse, step=rnd)
    env = runtime.load_env()
    with open(env.model_dir / "model.pkl", "wb") as fh:
        pickle.dump(model, fh)


if __name__ == "__main__":
    main()
