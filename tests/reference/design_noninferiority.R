# Reference values for non-inferiority sample sizes (equipoise design sample-size --margin), computed with rpact:
# getSampleSizeRates / getSampleSizeMeans / getSampleSizeSurvival with thetaH0 (the effect under H0).
#
#   Rscript tests/reference/design_noninferiority.R   # writes tests/reference/fixtures/design_noninferiority.json
#
# Tested with R 4.2.2, rpact 3.3.4, jsonlite. Conventions as design.R: ratio = n experimental / n control
# (rpact allocationRatioPlanned), group 1 = experimental; theta_h0 is rpact's thetaH0 (a risk difference, a mean
# difference, a hazard ratio). Rates use the Farrington-Manning restricted variance under H0; means the t test
# (normalApproximation = FALSE) unless sd_known; survival Schoenfeld's formula with log(HR) - log(thetaH0).

suppressPackageStartupMessages({
  library(rpact)
  library(jsonlite)
})

out_dir <- file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1])),
                     "fixtures")
if (!dir.exists(out_dir)) out_dir <- "tests/reference/fixtures"

num <- function(x) as.numeric(x)
first_col <- function(x) if (is.null(x)) NULL else num(if (is.matrix(x)) x[, 1] else x)

design_of <- function(a) {
  if (a$looks == 1) return(getDesignGroupSequential(kMax = 1, alpha = a$alpha, sided = 1, beta = a$beta))
  getDesignGroupSequential(kMax = a$looks, alpha = a$alpha, sided = 1, beta = a$beta, typeOfDesign = "asOF",
                           informationRates = a$information_rates)
}

fixed <- list(looks = 1, alpha = 0.025, beta = 0.2)
fixed90 <- list(looks = 1, alpha = 0.025, beta = 0.1)
gs3 <- list(looks = 3, alpha = 0.025, beta = 0.2, information_rates = c(0.5, 0.75, 1))

cases <- list()
add <- function(outcome, design_args, params, values) {
  cases[[length(cases) + 1]] <<- list(outcome = outcome, design = design_args, params = params, rpact = values)
}

rates <- function(design_args, pc, pt, theta, ratio = 1) {
  s <- getSampleSizeRates(design_of(design_args), pi1 = pt, pi2 = pc, thetaH0 = theta,
                          allocationRatioPlanned = ratio)
  add("binary", design_args, list(p_control = pc, p_treatment = pt, theta_h0 = theta, ratio = ratio),
      list(n_fixed = num(s$nFixed %||% NA), n_total = num(s$maxNumberOfSubjects),
           n_per_look = first_col(s$numberOfSubjects),
           effect_upper = first_col(s$criticalValuesEffectScale %||% s$criticalValuesEffectScaleUpper)))
}
means <- function(design_args, delta, sd, theta, ratio = 1, normal = FALSE) {
  # rpact wants alternative > thetaH0: a lower-is-better case is computed mirrored (same size, bounds negated)
  sign <- if (delta > theta) 1 else -1
  s <- getSampleSizeMeans(design_of(design_args), alternative = sign * delta, stDev = sd, thetaH0 = sign * theta,
                          allocationRatioPlanned = ratio, normalApproximation = normal)
  bound <- first_col(s$criticalValuesEffectScale %||% s$criticalValuesEffectScaleUpper)
  add("continuous", design_args, list(delta = delta, sd = sd, theta_h0 = theta, ratio = ratio, sd_known = normal),
      list(n_fixed = num(s$nFixed %||% NA), n_total = num(s$maxNumberOfSubjects),
           n_per_look = first_col(s$numberOfSubjects), effect_upper = sign * bound, mirrored = sign < 0))
}
surv <- function(design_args, hr, theta, ratio = 1, median_control = NULL, accrual = NULL, follow_up = NULL) {
  if (is.null(median_control)) {
    s <- getSampleSizeSurvival(design_of(design_args), hazardRatio = hr, thetaH0 = theta,
                               allocationRatioPlanned = ratio, lambda2 = log(2) / 12, accrualTime = c(0, 12),
                               followUpTime = 12)
    params <- list(hazard_ratio = hr, theta_h0 = theta, ratio = ratio)
  } else {
    s <- getSampleSizeSurvival(design_of(design_args), hazardRatio = hr, thetaH0 = theta,
                               allocationRatioPlanned = ratio, median2 = median_control,
                               accrualTime = c(0, accrual), followUpTime = follow_up)
    params <- list(hazard_ratio = hr, theta_h0 = theta, ratio = ratio, median_control = median_control,
                   accrual = accrual, follow_up = follow_up)
  }
  add("time-to-event", design_args, params,
      list(events_fixed = num(s$eventsFixed %||% NA), events = num(s$eventsPerStage)[design_args$looks],
           events_per_look = first_col(s$eventsPerStage),
           n_total = if (is.null(median_control)) NULL else num(s$maxNumberOfSubjects),
           effect_upper = first_col(s$criticalValuesEffectScale %||% s$criticalValuesEffectScaleUpper)))
}
`%||%` <- function(a, b) if (is.null(a) || length(a) == 0) b else a

# binary: mortality (fewer events better, H0 risk difference >= margin) and cure (more better, <= -margin)
rates(fixed, 0.20, 0.20, 0.10)
rates(fixed, 0.20, 0.18, 0.05)
rates(fixed90, 0.85, 0.85, -0.10, ratio = 2)
rates(fixed, 0.30, 0.33, 0.10, ratio = 0.5)
rates(gs3, 0.20, 0.20, 0.10)
rates(gs3, 0.85, 0.87, -0.08, ratio = 2)
# continuous: H0 mean difference <= -margin (higher better) or >= margin (lower better)
means(fixed, 0, 1, -0.3)
means(fixed90, 0.1, 2, -0.5, ratio = 2)
means(fixed, 0, 10, 4, normal = TRUE)
means(gs3, 0, 1, -0.3)
# time-to-event: H0 hazard ratio >= margin (events harmful) or <= margin (events desirable)
surv(fixed, 1.0, 1.3)
surv(fixed90, 0.9, 1.25, ratio = 2)
surv(fixed, 1.0, 0.8)
surv(gs3, 1.0, 1.3, median_control = 12, accrual = 12, follow_up = 12)
surv(fixed, 1.0, 1.3, median_control = 24, accrual = 18, follow_up = 12, ratio = 2)

json <- toJSON(list(rpact = as.character(packageVersion("rpact")), cases = cases), auto_unbox = TRUE,
               digits = NA, null = "null", na = "null")
writeLines(json, file.path(out_dir, "design_noninferiority.json"))
cat("wrote", length(cases), "cases\n")
