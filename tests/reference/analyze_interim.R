# Reference values for equipoise.analyze.interim, from rpact 3.3.4 (getAnalysisResults, getConditionalPower,
# getRepeatedConfidenceIntervals, getFinalPValue, getFinalConfidenceInterval). Run from the repository root:
#   Rscript tests/reference/analyze_interim.R
# The data are given to rpact as a survival dataset (cumulative events and log-rank z), so that the effect is
# log HR = 2 z / sqrt(events) with standard error 2 / sqrt(events) and information events / 4 (1:1 allocation):
# the same normal-theory quantities Equipoise uses for every outcome.
suppressPackageStartupMessages({library(rpact); library(jsonlite)})
out <- list(rpact = as.character(packageVersion("rpact")))
num <- function(x) unname(as.numeric(x))

design <- function(rates) getDesignGroupSequential(kMax = length(rates), alpha = 0.025, sided = 1,
  typeOfDesign = "asOF", informationRates = rates, typeBetaSpending = "bsHSD", gammaB = -2,
  bindingFutility = FALSE, beta = 0.1)
scenario <- function(rates, events, z, planned_events, theta_h1 = NA) {
  d <- design(rates)
  ds <- getDataset(overallEvents = events, overallLogRanks = z, overallAllocationRatios = rep(1, length(z)))
  k <- length(z)
  n_planned <- if (k < length(rates)) diff(c(events[k], rates[(k + 1):length(rates)] * planned_events)) else NA
  a <- if (k == length(rates)) getAnalysisResults(d, ds, directionUpper = TRUE)
       else if (is.na(theta_h1)) getAnalysisResults(d, ds, directionUpper = TRUE, nPlanned = n_planned)
       else getAnalysisResults(d, ds, directionUpper = TRUE, nPlanned = n_planned, thetaH1 = theta_h1)
  fp <- suppressWarnings(getFinalPValue(getStageResults(d, ds, directionUpper = TRUE)))
  fc <- suppressWarnings(getFinalConfidenceInterval(d, ds, directionUpper = TRUE))
  list(rates = rates, events = events, z = z, planned_events = planned_events, theta_h1 = theta_h1,
       n_planned = n_planned, critical = num(d$criticalValues), futility = num(d$futilityBounds),
       rci_low = num(a$repeatedConfidenceIntervalLowerBounds), rci_high = num(a$repeatedConfidenceIntervalUpperBounds),
       repeated_p = num(a$repeatedPValues), conditional_power = num(a$conditionalPower),
       final_p = num(fp$pFinal), final_stage = num(fp$finalStage),
       final_ci = num(c(fc$finalConfidenceInterval[1], fc$finalConfidenceInterval[2])),
       median_unbiased = num(fc$medianUnbiased))
}
out$scenarios <- list(
  continue = scenario(c(0.3, 0.62, 1), c(60, 124), c(1.2, 1.9), 200, 1.6),
  continue_observed_effect = scenario(c(0.3, 0.62, 1), c(60, 124), c(1.2, 1.9), 200),
  early_look = scenario(c(0.3, 0.62, 1), c(60), c(0.8), 200, 1.6),
  efficacy = scenario(c(0.3, 0.62, 1), c(60, 124), c(1.5, 3.1), 200, 1.6),
  final = scenario(c(0.3, 0.62, 1), c(60, 124, 200), c(1.0, 1.6, 2.2), 200, 1.6),
  final_not_significant = scenario(c(0.3, 0.62, 1), c(60, 124, 200), c(0.4, 1.1, 1.7), 200, 1.6))

# predictive power (flat prior on log HR): integrate rpact's conditional power over the posterior N(est, se^2)
pp <- function(rates, events, z, planned_events) {
  d <- design(rates)
  ds <- getDataset(overallEvents = events, overallLogRanks = z, overallAllocationRatios = rep(1, length(z)))
  sr <- getStageResults(d, ds, directionUpper = TRUE)
  k <- length(z)
  n_planned <- diff(c(events[k], rates[(k + 1):length(rates)] * planned_events))
  est <- 2 * z[k] / sqrt(events[k]); se <- 2 / sqrt(events[k])
  cp <- function(theta) sapply(theta, function(t) {
    v <- getConditionalPower(sr, nPlanned = n_planned, thetaH1 = exp(t))$conditionalPower
    v[length(v)] })
  integrate(function(t) cp(t) * dnorm(t, est, se), est - 8 * se, est + 8 * se, rel.tol = 1e-8)$value
}
out$predictive_power <- list(
  one_left = list(rates = c(0.3, 0.62, 1), events = c(60, 124), z = c(1.2, 1.9), planned_events = 200,
                  value = pp(c(0.3, 0.62, 1), c(60, 124), c(1.2, 1.9), 200)),
  two_left = list(rates = c(0.3, 0.62, 1), events = c(60), z = c(0.8), planned_events = 200,
                  value = pp(c(0.3, 0.62, 1), c(60), c(0.8), 200)))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           "tests/reference/fixtures/analyze_interim.json")
cat("wrote tests/reference/fixtures/analyze_interim.json\n")
