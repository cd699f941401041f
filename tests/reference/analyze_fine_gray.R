# Reference values for the Fine-Gray subdistribution hazards model (equipoise.analyze.fine_gray), written to
# tests/reference/fixtures/analyze_fine_gray.json with the dataset analyze_mgus2.csv. Run from the repository root:
#   Rscript tests/reference/analyze_fine_gray.R
# Needs R >= 4.2 with survival, cmprsk and jsonlite (Debian: r-cran-survival r-cran-cmprsk r-cran-jsonlite).
# The anchor: survival::finegray() expands the data (Kaplan-Meier censoring weights), then coxph() with
# ties = "breslow" and cluster = id gives the estimate, the robust (sandwich) SE, the naive SE and the weighted
# partial log-likelihood. cmprsk::crr() is a second anchor for the estimate (Breslow-type ties too); its SE adds
# a term for the estimated censoring distribution (Fine & Gray 1999, section 3), so it is recorded but compared
# with a looser tolerance.
suppressPackageStartupMessages({library(survival); library(cmprsk); library(jsonlite)})
out_dir <- "tests/reference/fixtures"
num <- function(x) unname(as.numeric(x))
res <- list(r_version = R.version.string, survival = as.character(packageVersion("survival")),
            cmprsk = as.character(packageVersion("cmprsk")))

# ---- datasets --------------------------------------------------------------------------------------------------
# the simulated trial of analyze.R: discharge, death competing, administrative censoring at day 28
sim <- read.csv(file.path(out_dir, "analyze_sim.csv"))
sim$time <- sim$discharge_time
sim$status <- sim$discharge_status
# survival::mgus2 (the finegray vignette's example): progression to plasma-cell malignancy, death competing,
# censoring spread over follow-up (months), many ties between events and censorings; "arm" is sex
mg <- na.omit(survival::mgus2[, c("id", "age", "sex", "hgb", "futime", "ptime", "pstat", "death")])
mg$time <- with(mg, ifelse(pstat == 0, futime, ptime))
mg$status <- with(mg, ifelse(pstat == 0, 2 * death, 1))
mg$arm <- ifelse(mg$sex == "M", "male", "female")
mg$anaemia <- ifelse(mg$hgb < 12, "yes", "no")
mg <- mg[, c("time", "status", "arm", "age", "anaemia")]
write.csv(mg, file.path(out_dir, "analyze_mgus2.csv"), row.names = FALSE)

# ---- fits ------------------------------------------------------------------------------------------------------
fg_fit <- function(d, treat, covariates = character(), stratum = NULL) {
  d$id <- seq_len(nrow(d))
  d$x_treat <- as.integer(d$arm == treat)
  d$fs <- factor(d$status, 0:2, c("censor", "event", "competing"))
  rhs <- c("x_treat", covariates, "id")
  if (!is.null(stratum)) {  # finegray drops its strata() column, so a copy goes through for coxph
    d$stratum_copy <- d[[stratum]]
    rhs <- c(rhs, "stratum_copy", sprintf("strata(%s)", stratum))
  }
  fg <- finegray(as.formula(paste("Surv(time, fs) ~", paste(rhs, collapse = " + "))), data = d, etype = "event")
  model <- c("x_treat", covariates, if (!is.null(stratum)) "strata(stratum_copy)")
  f <- coxph(as.formula(paste("Surv(fgstart, fgstop, fgstatus) ~", paste(model, collapse = " + "))),
             weights = fgwt, data = fg, ties = "breslow", cluster = id)
  out <- list(treat = treat, covariates = I(covariates), strata = stratum, rows = nrow(fg),
              coef = num(coef(f)), se = num(sqrt(diag(vcov(f)))), naive_se = num(sqrt(diag(f$naive.var))),
              loglik = num(f$loglik))
  if (is.null(stratum)) {
    cov <- cbind(x_treat = d$x_treat, as.matrix(d[, covariates, drop = FALSE]))
    c1 <- crr(d$time, d$status, cov, failcode = 1, cencode = 0)
    out$crr <- list(coef = num(c1$coef), se = num(sqrt(diag(c1$var))), converged = c1$converged)
  }
  out
}
res$sim <- list(unadjusted = fg_fit(sim, "msc"), adjusted = fg_fit(sim, "msc", "age"),
                stratified = fg_fit(sim, "msc", "age", "severity"))
res$mgus2 <- list(unadjusted = fg_fit(mg, "male"), adjusted = fg_fit(mg, "male", "age"),
                  stratified = fg_fit(mg, "male", "age", "anaemia"))
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           file.path(out_dir, "analyze_fine_gray.json"))
