# Reference values for the proportional-odds posterior (equipoise.analyze.bayes.proportional_odds_posterior) on
# sparse early-look data sets, written to tests/reference/fixtures/analyze_po_sparse.json. Run from the
# repository root:
#   Rscript tests/reference/analyze_po_sparse.R        (about a minute)
# Needs R >= 4.2 with ordinal and jsonlite. Same method as po_posterior in analyze.R: the Laplace-approximate
# marginal posterior l(b) - log det(Hessian of the nuisance parameters) / 2 + log prior, clm refitted with
# offset(b * msc) at every point integrate() asks for, over the MLE +- 7 SE. Equipoise's code before commit b72d1c7
# stopped on both data sets with "`y` must contain only finite values" (failed refits on its grid), and b72d1c7
# refused six_patients_age (its warm-started refits failed on more than half the grid). clm warns
# that it fails to converge for six_patients_age beyond 3.7 SE (clm's b > 21, a log odds ratio where the N(0, 1)
# prior leaves a density below e^-200): those points carry no mass.
suppressPackageStartupMessages({library(ordinal); library(jsonlite)})
out_dir <- "tests/reference/fixtures"

po_posterior <- function(d, covariates, orientation, prior_sd = 1, important = 1.2) {
  d$yf <- factor(d$y)
  full <- clm(as.formula(paste("yf ~", paste(c("msc", covariates), collapse = " + "))), data = d)
  bh <- coef(full)[["msc"]]; se <- sqrt(vcov(full)["msc", "msc"])
  # the prior is on the reported log odds ratio: -b for a lower (better) level, b for a higher one
  sgn <- if (orientation == "lower") -1 else 1
  off_formula <- as.formula(paste("yf ~", paste(c(covariates, "offset(off)"), collapse = " + ")))
  logpost <- function(b) {
    d$off <- b * d$msc
    f <- clm(off_formula, data = d)
    as.numeric(logLik(f)) - 0.5 * as.numeric(determinant(f$Hessian)$modulus) + dnorm(sgn * b, 0, prior_sd, log = TRUE)
  }
  m <- logpost(bh)
  dens <- function(b) sapply(b, function(x) exp(logpost(x) - m))
  lo <- bh - 7 * se; hi <- bh + 7 * se
  z <- integrate(dens, lo, hi, rel.tol = 1e-9, subdivisions = 1000)$value
  beyond <- function(v) {  # P(reported log odds ratio > v)
    if (orientation == "lower") integrate(dens, lo, -v, rel.tol = 1e-9)$value / z
    else integrate(dens, v, hi, rel.tol = 1e-9)$value / z
  }
  list(estimate = bh, se = se, prior_sd = prior_sd, important = important, p_benefit = beyond(0),
       p_important = beyond(log(important)))
}

cases <- list(
  # six patients, four on MSC; outcome levels (indices) 0-2; adjusted for age
  six_patients_age = list(y = c(2, 0, 1, 0, 2, 0), msc = c(1, 1, 1, 1, 0, 0),
                          covariate = c(49, 62, 65, 77, 42, 57), orientation = "lower"),
  # seven patients, five on MSC; levels 0-4; adjusted for a binary covariate
  seven_patients_binary = list(y = c(3, 0, 4, 1, 0, 2, 2), msc = c(1, 1, 1, 1, 1, 0, 0),
                               covariate = c(1, 1, 1, 0, 1, 0, 0), orientation = "higher")
)
res <- list(r_version = R.version.string, ordinal = as.character(packageVersion("ordinal")))
res$cases <- lapply(cases, function(cs) {
  d <- data.frame(y = cs$y, msc = cs$msc, covariate = cs$covariate)
  c(cs, po_posterior(d, "covariate", cs$orientation))
})
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           file.path(out_dir, "analyze_po_sparse.json"))
cat("wrote", file.path(out_dir, "analyze_po_sparse.json"), "\n")
