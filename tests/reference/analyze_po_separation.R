# Reference values for the proportional-odds fit under quasi-complete separation
# (equipoise.analyze.cumulative_logit, _separated_limit), written to
# tests/reference/fixtures/analyze_po_separation.json. Run from the repository root:
#   Rscript tests/reference/analyze_po_separation.R
# Needs R with ordinal and jsonlite. Every patient with z = 1 is in the top level, so z's coefficient has no
# finite maximum: clm stops with z large ("Hessian is numerically singular") and estimates for the thresholds
# and the arm, but no standard errors. Those estimates are the limit as z grows, which is the fit without the
# z = 1 patients; that fit's standard error of the arm is the limit's.
suppressPackageStartupMessages({library(ordinal); library(jsonlite)})
y <- c(0, 1, 2, 1, 0, 2, 1, 0, 1, 2, 0, 1, 2, 2, 2, 2)
arm <- c(1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0)
z <- c(rep(0, 12), rep(1, 4))
d <- data.frame(yf = factor(y), arm = arm, z = z)
full <- suppressWarnings(clm(yf ~ arm + z, data = d))
without <- clm(yf ~ arm, data = d[d$z == 0, ])
out <- list(
  data = list(y = y, arm = arm, z = z),
  full = list(thresholds = unname(full$alpha), arm = unname(full$beta[["arm"]]), z = unname(full$beta[["z"]]),
              convergence_code = full$convergence$code),
  without = list(thresholds = unname(without$alpha), arm = unname(without$beta[["arm"]]),
                 arm_se = unname(sqrt(vcov(without)["arm", "arm"])))
)
write_json(out, file.path("tests/reference/fixtures", "analyze_po_separation.json"), digits = NA, auto_unbox = TRUE,
           pretty = TRUE)
