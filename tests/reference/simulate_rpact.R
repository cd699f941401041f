# Reference operating characteristics for equipoise.simulate, computed with rpact 3.3.4 (R 4.2.2).
# Run from the repository root:  Rscript tests/reference/simulate_rpact.R
# Writes tests/reference/fixtures/simulate_rpact.json. CI reads the JSON and needs no R.
suppressPackageStartupMessages({library(rpact); library(jsonlite)})
stopifnot(packageVersion("rpact") == "3.3.4")

design_info <- function(d) {
  fut <- d$futilityBounds
  fut[fut <= -6] <- NA  # rpact writes "no futility bound" as -6
  list(kMax = d$kMax, alpha = d$alpha, typeOfDesign = d$typeOfDesign, informationRates = d$informationRates,
       criticalValues = d$criticalValues, futilityBounds = if (all(is.na(fut))) NULL else fut,
       bindingFutility = isTRUE(d$bindingFutility))
}
sim_info <- function(s, n_iter, seconds) {
  k <- s$.design$kMax
  alt <- ncol(as.matrix(s$rejectPerStage))
  fut <- if (k > 1) as.matrix(s$futilityPerStage) else matrix(0, 0, alt)
  list(iterations = n_iter, seconds = seconds,
       rejectPerStage = lapply(seq_len(alt), function(j) as.matrix(s$rejectPerStage)[, j]),
       futilityPerStage = lapply(seq_len(alt), function(j) if (k > 1) fut[, j] else numeric(0)),
       overallReject = as.numeric(s$overallReject),
       earlyStop = as.numeric(s$earlyStop),
       expectedNumberOfSubjects = as.numeric(s$expectedNumberOfSubjects),
       expectedNumberOfEvents = if (inherits(s, "SimulationResultsSurvival")) as.numeric(s$expectedNumberOfEvents) else NULL)
}
out <- list(rpact = as.character(packageVersion("rpact")), cases = list())
n_iter <- 100000

# --- rates ---------------------------------------------------------------------------------------------
d <- getDesignGroupSequential(kMax = 3, alpha = 0.025, typeOfDesign = "OF")
t <- system.time(s <- getSimulationRates(d, pi1 = c(0.2, 0.4), pi2 = 0.2, plannedSubjects = c(56, 110, 166),
                                          maxNumberOfIterations = n_iter, seed = 12345))[["elapsed"]]
out$cases$rates_of3 <- list(kind = "rates", design = design_info(d), pi_treatment = c(0.2, 0.4), pi_control = 0.2,
                            planned_subjects = c(56, 110, 166), direction_upper = TRUE, simulation = sim_info(s, n_iter, t))

d <- getDesignGroupSequential(kMax = 3, alpha = 0.025, typeOfDesign = "asOF", typeBetaSpending = "bsOF",
                              beta = 0.2, bindingFutility = FALSE)
t <- system.time(s <- getSimulationRates(d, pi1 = c(0.3, 0.18), pi2 = 0.3, plannedSubjects = c(160, 320, 480),
                                          directionUpper = FALSE, maxNumberOfIterations = n_iter, seed = 4))[["elapsed"]]
out$cases$rates_asof_futility <- list(kind = "rates", design = design_info(d), pi_treatment = c(0.3, 0.18),
                                      pi_control = 0.3, planned_subjects = c(160, 320, 480), direction_upper = FALSE,
                                      simulation = sim_info(s, n_iter, t))

# --- means ---------------------------------------------------------------------------------------------
d <- getDesignGroupSequential(kMax = 3, alpha = 0.025, typeOfDesign = "OF")
t <- system.time(s <- getSimulationMeans(d, alternative = c(0, 0.5), stDev = 1, plannedSubjects = c(44, 88, 130),
                                          maxNumberOfIterations = n_iter, seed = 12345))[["elapsed"]]
out$cases$means_of3 <- list(kind = "means", design = design_info(d), alternative = c(0, 0.5), sd = 1,
                            planned_subjects = c(44, 88, 130), direction_upper = TRUE, simulation = sim_info(s, n_iter, t))

d <- getDesignGroupSequential(kMax = 4, alpha = 0.025, typeOfDesign = "asP", typeBetaSpending = "bsP",
                              beta = 0.1, bindingFutility = FALSE)
t <- system.time(s <- getSimulationMeans(d, alternative = c(0, 4), stDev = 10, plannedSubjects = c(60, 120, 180, 240),
                                          maxNumberOfIterations = n_iter, seed = 99))[["elapsed"]]
out$cases$means_asp4_futility <- list(kind = "means", design = design_info(d), alternative = c(0, 4), sd = 10,
                                      planned_subjects = c(60, 120, 180, 240), direction_upper = TRUE,
                                      simulation = sim_info(s, n_iter, t))

# --- survival (patient level) ----------------------------------------------------------------------------
n_iter_surv <- 20000
d <- getDesignGroupSequential(kMax = 3, alpha = 0.025, typeOfDesign = "asOF")
t <- system.time(s <- getSimulationSurvival(d, hazardRatio = c(1, 0.75), lambda2 = log(2) / 12, accrualTime = 12,
                                             maxNumberOfSubjects = 876, plannedEvents = c(172, 343, 514),
                                             directionUpper = FALSE, maxNumberOfIterations = n_iter_surv,
                                             seed = 12345))[["elapsed"]]
out$cases$survival_asof3 <- list(kind = "survival", design = design_info(d), hazard_ratio = c(1, 0.75),
                                 lambda_control = log(2) / 12, accrual_time = 12, max_subjects = 876,
                                 planned_events = c(172, 343, 514), dropout_rate = 0, dropout_time = 12,
                                 direction_upper = FALSE, simulation = sim_info(s, n_iter_surv, t))

d <- getDesignGroupSequential(kMax = 2, alpha = 0.025, typeOfDesign = "asP")
t <- system.time(s <- getSimulationSurvival(d, hazardRatio = c(1, 0.7), lambda2 = log(2) / 8, accrualTime = 18,
                                             maxNumberOfSubjects = 600, plannedEvents = c(150, 300),
                                             dropoutRate1 = 0.05, dropoutRate2 = 0.05, dropoutTime = 12,
                                             directionUpper = FALSE, maxNumberOfIterations = n_iter_surv,
                                             seed = 777))[["elapsed"]]
out$cases$survival_asp2_dropout <- list(kind = "survival", design = design_info(d), hazard_ratio = c(1, 0.7),
                                        lambda_control = log(2) / 8, accrual_time = 18, max_subjects = 600,
                                        planned_events = c(150, 300), dropout_rate = 0.05, dropout_time = 12,
                                        direction_upper = FALSE, simulation = sim_info(s, n_iter_surv, t))

dir.create("tests/reference/fixtures", showWarnings = FALSE, recursive = TRUE)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           "tests/reference/fixtures/simulate_rpact.json")
cat("wrote tests/reference/fixtures/simulate_rpact.json\n")
