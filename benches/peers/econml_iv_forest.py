#!/usr/bin/env python3
"""Peer benchmark: EconML's CausalIVForest (a port of grf's instrumental forest).

Reads a training and a test CSV written by `causim simulate` (columns x1..xp,
w, z, y, the truth tau, optionally cate/clate, and complier_type), fits the
forest on the training set with grf-like settings, predicts the conditional
effect and its variance on the test set, and prints one JSON line.

As grf's instrumental_forest does by default, Y, W and Z are first centred by
out-of-bag predictions of three separate regression forests on X, each with
max(50, trees / 4) trees, and the instrumental forest is grown on the
residuals.

Usage:
    python3 econml_iv_forest.py --train train.csv --test test.csv \
        [--trees 2000] [--threads 2] [--seed 0] [--criterion het|mse]
"""

import argparse
import json
import math
import resource
import sys
import time

import numpy as np
import pandas as pd
from scipy.stats import norm

import econml
from econml.grf import CausalIVForest, RegressionForest

# grf defaults (instrumental_forest / regression_forest), in EconML's terms.
MIN_NODE_SIZE = 5          # grf min.node.size
SAMPLE_FRACTION = 0.5      # grf sample.fraction
CI_GROUP_SIZE = 2          # grf ci.group.size
BALANCE_TOL = 0.5 - 0.05   # grf alpha = 0.05: each child keeps >= 5% of the parent
LEVEL = 0.95


def read_sample(path):
    """Covariates, treatment, instrument, outcome and per-unit truth of one CSV."""
    frame = pd.read_csv(path)
    xcols = [c for c in frame.columns if c.startswith("x") and c[1:].isdigit()]
    xcols.sort(key=lambda c: int(c[1:]))
    if not xcols:
        sys.exit(f"{path}: no covariate columns x1..xp")
    for col in ("w", "z", "y", "tau"):
        if col not in frame.columns:
            sys.exit(f"{path}: missing column `{col}`")
    # The conditional LATE is the instrumental forest's target; fall back to
    # each unit's effect when the simulator does not write it.
    truth_col = "clate" if "clate" in frame.columns else "tau"
    as_float = lambda col: frame[col].to_numpy(dtype=np.float64)
    return {
        "X": frame[xcols].to_numpy(dtype=np.float64),
        "w": as_float("w"),
        "z": as_float("z"),
        "y": as_float("y"),
        "truth": as_float(truth_col),
        "truth_col": truth_col,
    }


def oob_residual(X, target, trees, threads, seed):
    """target minus its out-of-bag regression-forest prediction (grf's centring)."""
    forest = RegressionForest(
        n_estimators=trees,
        min_samples_leaf=MIN_NODE_SIZE,
        max_samples=SAMPLE_FRACTION,
        min_balancedness_tol=BALANCE_TOL,
        honest=True,
        inference=False,   # grf grows nuisance forests with ci.group.size = 1
        n_jobs=threads,
        random_state=seed,
    )
    forest.fit(X, target)
    fitted = np.asarray(forest.oob_predict(X)).reshape(-1)
    # A unit that every tree sampled has no OOB prediction (vanishingly rare
    # with hundreds of half-sample trees); use the overall mean for it.
    missing = ~np.isfinite(fitted)
    if missing.any():
        fitted[missing] = target.mean()
    return target - fitted


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", required=True, help="training CSV from causim simulate")
    parser.add_argument("--test", required=True, help="test CSV from causim simulate")
    parser.add_argument("--trees", type=int, default=2000, help="trees in the IV forest")
    parser.add_argument("--threads", type=int, default=2, help="joblib n_jobs")
    parser.add_argument("--seed", type=int, default=0, help="random_state")
    parser.add_argument(
        "--criterion",
        choices=("het", "mse"),
        default="het",
        help='split criterion: "het" (grf-like gradient) or "mse" (exact local moment)',
    )
    args = parser.parse_args()
    if args.trees % CI_GROUP_SIZE != 0:
        sys.exit(f"--trees must be a multiple of {CI_GROUP_SIZE}")

    train = read_sample(args.train)
    test = read_sample(args.test)
    if train["X"].shape[1] != test["X"].shape[1]:
        sys.exit("train and test have different numbers of covariates")

    X = train["X"]
    nuisance_trees = max(50, args.trees // 4)

    start = time.perf_counter()
    y_res = oob_residual(X, train["y"], nuisance_trees, args.threads, args.seed)
    w_res = oob_residual(X, train["w"], nuisance_trees, args.threads, args.seed + 1)
    z_res = oob_residual(X, train["z"], nuisance_trees, args.threads, args.seed + 2)
    nuisance_seconds = time.perf_counter() - start

    forest = CausalIVForest(
        n_estimators=args.trees,
        criterion=args.criterion,
        min_samples_leaf=MIN_NODE_SIZE,
        max_samples=SAMPLE_FRACTION,
        min_balancedness_tol=BALANCE_TOL,
        honest=True,
        inference=True,
        subforest_size=CI_GROUP_SIZE,
        n_jobs=args.threads,
        random_state=args.seed,
    )
    forest.fit(X, w_res, y_res, Z=z_res)
    fit_seconds = time.perf_counter() - start

    start = time.perf_counter()
    tau_hat, tau_var = forest.predict_and_var(test["X"])
    predict_seconds = time.perf_counter() - start

    tau_hat = np.asarray(tau_hat).reshape(-1)
    se = np.sqrt(np.maximum(np.asarray(tau_var).reshape(-1), 0.0))
    half = norm.ppf(0.5 + LEVEL / 2) * se
    truth = test["truth"]
    covered = (tau_hat - half <= truth) & (truth <= tau_hat + half)

    result = {
        "tool": "econml",
        "version": econml.__version__,
        "n_train": int(X.shape[0]),
        "n_test": int(test["X"].shape[0]),
        "p": int(X.shape[1]),
        "trees": args.trees,
        "criterion": args.criterion,
        "threads": args.threads,
        "fit_seconds": round(fit_seconds, 3),
        "predict_seconds": round(predict_seconds, 3),
        "iate_rmse": round(float(math.sqrt(np.mean((tau_hat - truth) ** 2))), 5),
        "coverage": round(float(np.mean(covered)), 4),
        "mean_ci_width": round(float(np.mean(2 * half)), 5),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "nuisance_seconds": round(nuisance_seconds, 3),
        "nuisance_trees": nuisance_trees,
        "truth": test["truth_col"],
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
