# Reference rejection probabilities for binary primaries tested on a ratio scale (equipoise.simulate.ratio_endpoints):
# the Wald z of the log risk ratio or log odds ratio, 0.5 added to every cell of a table with a zero cell.
# Run from the repository root:  Rscript tests/reference/simulate_ratio.R
# Writes tests/reference/fixtures/simulate_ratio.json. CI reads the JSON and needs no R.
#
# 1. exact: the rejection probability of fixed and two-look designs by full enumeration of the binomial outcomes
#    (stage 1 and stage 2 counts of both arms), with each table's log ratio and variance from metafor::escalc
#    (measure "RR" or "OR", add = 1/2, to = "only0": the Haldane correction of tables with a zero cell).
# 2. rpact: getSimulationRates(riskRatio = TRUE) of a three-look design. rpact's statistic is the Farrington-Manning
#    score statistic of RR = thetaH0, which at thetaH0 = 1 is the pooled difference-in-proportions z, not the
#    Wald z of the log risk ratio; the test file compares the two only where they should agree (see there).
suppressPackageStartupMessages({library(rpact); library(metafor); library(jsonlite)})
stopifnot(packageVersion("rpact") == "3.3.4")

# z oriented so that positive favours the experimental arm; NA-free thanks to the 0.5 correction
wald_z <- function(x1, n1, x0, n0, measure, higher_is_better) {
  es <- escalc(measure = measure, ai = x1, n1i = rep(n1, length(x1)), ci = x0, n2i = rep(n0, length(x0)),
               add = 1/2, to = "only0", drop00 = FALSE)
  z <- as.numeric(es$yi) / sqrt(as.numeric(es$vi))
  if (higher_is_better) z else -z
}

# exact per-look rejection probabilities of a K <= 2 look design (cumulative per-arm sizes n1[k], n0[k])
exact_looks <- function(p1, p0, n1, n0, crit, measure, higher_is_better) {
  g1 <- expand.grid(x1 = 0:n1[1], x0 = 0:n0[1])
  w1 <- dbinom(g1$x1, n1[1], p1) * dbinom(g1$x0, n0[1], p0)
  z1 <- wald_z(g1$x1, n1[1], g1$x0, n0[1], measure, higher_is_better)
  reject1 <- sum(w1[z1 >= crit[1]])
  if (length(crit) == 1) return(reject1)
  m1 <- n1[2] - n1[1]; m0 <- n0[2] - n0[1]
  cont <- which(z1 < crit[1])
  g2 <- expand.grid(y1 = 0:m1, y0 = 0:m0)
  w2 <- dbinom(g2$y1, m1, p1) * dbinom(g2$y0, m0, p0)
  # every (stage-1 table that continues, stage-2 increment) pair
  i <- rep(cont, each = nrow(g2)); j <- rep(seq_len(nrow(g2)), times = length(cont))
  z2 <- wald_z(g1$x1[i] + g2$y1[j], n1[2], g1$x0[i] + g2$y0[j], n0[2], measure, higher_is_better)
  reject2 <- sum((w1[i] * w2[j])[z2 >= crit[2]])
  c(reject1, reject2)
}

out <- list(rpact = as.character(packageVersion("rpact")), metafor = as.character(packageVersion("metafor")),
            exact = list(), rpact_cases = list())
add_exact <- function(name, measure, p1, p0, n1, n0, crit, higher_is_better) {
  out$exact[[name]] <<- list(measure = if (measure == "RR") "risk-ratio" else "odds-ratio", p_treatment = p1,
                             p_control = p0, n_treatment = n1, n_control = n0, critical_values = crit,
                             higher_is_better = higher_is_better,
                             reject_by_look = exact_looks(p1, p0, n1, n0, crit, measure, higher_is_better))
}
z975 <- qnorm(0.975)
# fixed samples: small arms (zero cells are common), unequal allocation, both directions, null and alternative
add_exact("rr_fixed_null", "RR", 0.15, 0.15, 40, 40, z975, FALSE)
add_exact("rr_fixed_alt", "RR", 0.05, 0.15, 40, 40, z975, FALSE)
add_exact("rr_fixed_higher", "RR", 0.6, 0.4, 50, 50, z975, TRUE)
add_exact("or_fixed_null", "OR", 0.3, 0.3, 60, 30, z975, FALSE)
add_exact("or_fixed_alt", "OR", 0.15, 0.3, 60, 30, z975, FALSE)
# two looks, O'Brien-Fleming boundaries
of2 <- getDesignGroupSequential(kMax = 2, alpha = 0.025, typeOfDesign = "OF")
add_exact("rr_of2_null", "RR", 0.2, 0.2, c(30, 60), c(30, 60), of2$criticalValues, FALSE)
add_exact("rr_of2_alt", "RR", 0.08, 0.2, c(30, 60), c(30, 60), of2$criticalValues, FALSE)
add_exact("or_of2_null", "OR", 0.3, 0.3, c(30, 60), c(30, 60), of2$criticalValues, FALSE)
add_exact("or_of2_alt", "OR", 0.15, 0.3, c(30, 60), c(30, 60), of2$criticalValues, FALSE)

# rpact, large trial (the two statistics are asymptotically equivalent): 3 looks, O'Brien-Fleming spending
n_iter <- 100000
d <- getDesignGroupSequential(kMax = 3, alpha = 0.025, typeOfDesign = "asOF")
planned <- c(1000, 2000, 3000)
s <- getSimulationRates(d, pi1 = c(0.2, 0.16), pi2 = 0.2, riskRatio = TRUE, thetaH0 = 1, directionUpper = FALSE,
                        plannedSubjects = planned, maxNumberOfIterations = n_iter, seed = 2020)
rej <- as.matrix(s$rejectPerStage)
out$rpact_cases$rr_asof3 <- list(
  critical_values = d$criticalValues, information_rates = d$informationRates, pi_treatment = c(0.2, 0.16),
  pi_control = 0.2, planned_subjects = planned, direction_upper = FALSE, iterations = n_iter,
  reject_by_look = lapply(1:2, function(j) rej[, j]), overall_reject = as.numeric(s$overallReject))

dir.create("tests/reference/fixtures", showWarnings = FALSE, recursive = TRUE)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           "tests/reference/fixtures/simulate_ratio.json")
cat("wrote tests/reference/fixtures/simulate_ratio.json\n")
