#!/usr/bin/env Rscript
# Peer benchmark: grf's instrumental_forest, the reference implementation.
#
# Reads a training and a test CSV written by `causim simulate` (x1..xp, w,
# z, y and the truth, `clate` if present, else `tau`), fits
# instrumental_forest with grf's defaults (the nuisance forests included),
# predicts the effect and its variance on the test set, computes the
# average effect (average_treatment_effect, which grows grf's compliance
# forest), and prints one JSON line like econml_iv_forest.py's, each step
# timed.
#
# Usage:
#   Rscript grf_iv_forest.R TRAIN.csv TEST.csv [TREES] [THREADS] [TUNE]
# TREES defaults to 2000, THREADS to 2; TUNE "all" tunes every parameter
# grf can tune (tune.parameters = "all"), "none" (the default) tunes none.
suppressPackageStartupMessages(library(grf))
args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 2) stop("usage: grf_iv_forest.R TRAIN.csv TEST.csv [TREES] [THREADS] [TUNE]")
trees <- if (length(args) >= 3) as.integer(args[3]) else 2000L
threads <- if (length(args) >= 4) as.integer(args[4]) else 2L
tune <- if (length(args) >= 5) args[5] else "none"

read_sample <- function(path) {
  frame <- read.csv(path)
  xcols <- grep("^x[0-9]+$", names(frame), value = TRUE)
  xcols <- xcols[order(as.integer(sub("x", "", xcols)))]
  truth <- if ("clate" %in% names(frame)) "clate" else "tau"
  list(X = as.matrix(frame[, xcols]), w = frame$w, z = frame$z, y = frame$y,
       truth = frame[[truth]], truth_col = truth)
}

train <- read_sample(args[1])
test <- read_sample(args[2])
started <- proc.time()[["elapsed"]]
forest <- instrumental_forest(train$X, train$y, train$w, train$z,
                              num.trees = trees, num.threads = threads,
                              tune.parameters = tune, seed = 1)
fit_seconds <- proc.time()[["elapsed"]] - started
started <- proc.time()[["elapsed"]]
pred <- predict(forest, test$X, estimate.variance = TRUE, num.threads = threads)
predict_seconds <- proc.time()[["elapsed"]] - started
# The average effect, as causim's fit reports it beside the per-unit
# effects: grf fits its compliance forest here.
started <- proc.time()[["elapsed"]]
average <- average_treatment_effect(forest)
average_seconds <- proc.time()[["elapsed"]] - started
tau <- pred$predictions
se <- sqrt(pmax(pred$variance.estimates, 0))
covered <- abs(tau - test$truth) <= qnorm(0.975) * se
tuned <- forest$tuning.output
params <- forest$tunable.params
cat(sprintf(paste0(
  '{"tool": "grf", "version": "%s", "n_train": %d, "n_test": %d, "p": %d, "trees": %d, ',
  '"threads": %d, "tune": "%s", "fit_seconds": %.2f, "predict_seconds": %.2f, ',
  '"average_seconds": %.2f, "average": %.5f, "average_se": %.5f, ',
  '"iate_rmse": %.5f, "coverage": %.4f, "mean_ci_width": %.5f, ',
  '"min_node_size": %s, "sample_fraction": %s, "mtry": %s, "truth": "%s"}\n'),
  as.character(packageVersion("grf")), nrow(train$X), nrow(test$X), ncol(train$X), trees,
  threads, tune, fit_seconds, predict_seconds,
  average_seconds, average[["estimate"]], average[["std.err"]],
  sqrt(mean((tau - test$truth)^2)), mean(covered), mean(2 * qnorm(0.975) * se),
  params$min.node.size, params$sample.fraction, params$mtry, test$truth_col))
