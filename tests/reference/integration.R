# Reference values for the edge cases the trial server's data brought to equipoise.analyze (integration tests),
# written to tests/reference/fixtures/integration.json. Run from the repository root:
#   Rscript tests/reference/integration.R
# Needs R >= 4.2 with ordinal, metafor and jsonlite (Debian: r-cran-ordinal r-cran-metafor r-cran-jsonlite).
suppressPackageStartupMessages({library(ordinal); library(metafor); library(jsonlite)})
res <- list(r_version = R.version.string, ordinal = as.character(packageVersion("ordinal")),
            metafor = as.character(packageVersion("metafor")))
num <- function(x) unname(as.numeric(x))

# ---- Mantel-Haenszel with no event in the experimental arm of any stratum ----------------------------------
x1 <- c(0, 0, 0); n1 <- c(10, 12, 8); x0 <- c(1, 2, 3); n0 <- c(11, 12, 9)
tab <- array(NA, dim = c(2, 2, 3))
for (k in 1:3) tab[, , k] <- matrix(c(x1[k], x0[k], n1[k] - x1[k], n0[k] - x0[k]), 2)
cmh <- mantelhaen.test(tab, correct = FALSE)
rd <- rma.mh(ai = x1, n1i = n1, ci = x0, n2i = n0, measure = "RD")
or <- suppressWarnings(rma.mh(ai = x1, n1i = n1, ci = x0, n2i = n0, measure = "OR"))
res$mh_zero_arm <- list(x1 = x1, n1 = n1, x0 = x0, n0 = n0,
                        or_estimate = num(cmh$estimate), or_ci_is_nan = all(is.nan(cmh$conf.int)),
                        metafor_or_is_na = is.na(or$beta[1]),
                        cmh_chisq = num(cmh$statistic), cmh_p = num(cmh$p.value),
                        rd = num(rd$beta), rd_se = num(rd$se), rd_ci = c(num(rd$ci.lb), num(rd$ci.ub)))

# ---- proportional-odds test when a level is empty in one arm -----------------------------------------------
# WHO scale at day 28 by arm, as a small interim export of the demo trial gave it (level 9: none on placebo).
counts <- rbind(placebo = c(6, 11, 10, 2, 2, 1, 3, 1, 0, 7), msc = c(8, 9, 8, 2, 2, 2, 4, 1, 4, 6))
levels_ <- c(0, 1, 2, 3, 4, 5, 7, 8, 9, 10)
d <- do.call(rbind, lapply(rownames(counts), function(a) data.frame(arm = a, y = rep(levels_, counts[a, ]))))
d$y <- factor(d$y, ordered = TRUE); d$arm <- factor(d$arm, levels = c("placebo", "msc"))
m0 <- clm(y ~ arm, data = d)
m1 <- suppressWarnings(clm(y ~ 1, nominal = ~arm, data = d))
th <- coef(m1)[1:(nlevels(d$y) - 1)]
shift <- coef(m1)[nlevels(d$y):(2 * (nlevels(d$y) - 1))]
res$po_sparse <- list(levels = levels_, placebo = num(counts["placebo", ]), msc = num(counts["msc", ]),
                      po_log_or = num(coef(m0)["armmsc"]), po_se = num(sqrt(diag(vcov(m0)))["armmsc"]),
                      nominal_convergence = m1$convergence$code,
                      nominal_thresholds_increase = all(diff(num(th)) > 0) && all(diff(num(th + shift)) > 0))
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/fixtures/integration.json")
