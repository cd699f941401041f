# Reference values for equipoise.analyze (estimators), written to tests/reference/fixtures/analyze_*.
# Run from the repository root:  Rscript tests/reference/analyze.R
# Needs R >= 4.2 with survival, ordinal, metafor and jsonlite (Debian: r-cran-survival r-cran-ordinal
# r-cran-metafor r-cran-jsonlite). The datasets are written next to the JSON so the Python tests need no R.
suppressPackageStartupMessages({library(survival); library(ordinal); library(metafor); library(jsonlite)})
out_dir <- "tests/reference/fixtures"
res <- list(r_version = R.version.string, survival = as.character(packageVersion("survival")),
            ordinal = as.character(packageVersion("ordinal")), metafor = as.character(packageVersion("metafor")))
num <- function(x) unname(as.numeric(x))

# ---- datasets ---------------------------------------------------------------------------------------------
lung2 <- na.omit(survival::lung[, c("time", "status", "sex", "age", "ph.ecog")])
lung2$event <- as.integer(lung2$status == 2)
lung2$arm <- ifelse(lung2$sex == 2, "female", "male")
write.csv(lung2[, c("time", "event", "arm", "age", "ph.ecog")], file.path(out_dir, "analyze_lung.csv"), row.names = FALSE)
vet <- survival::veteran
vet$arm <- ifelse(vet$trt == 2, "test", "standard")
write.csv(vet[, c("time", "status", "arm", "karno", "celltype", "age")], file.path(out_dir, "analyze_veteran.csv"), row.names = FALSE)
wine <- ordinal::wine
wine2 <- data.frame(rating = as.integer(wine$rating), arm = as.character(wine$temp), contact = as.character(wine$contact))
write.csv(wine2, file.path(out_dir, "analyze_wine.csv"), row.names = FALSE)

# a simulated two-arm COVID trial: WHO scale at day 28, death, discharge with death as competing risk
set.seed(20200316)
n <- 240
sim <- data.frame(arm = sample(rep(c("msc", "placebo"), n / 2)),
                  severity = sample(c("mild", "severe", "critical"), n, TRUE, prob = c(.4, .35, .25)),
                  age = round(rnorm(n, 60, 12)))
sev <- c(mild = 0, severe = 1, critical = 2)[sim$severity]
lat <- 1.2 * sev + 0.03 * (sim$age - 60) - 0.35 * (sim$arm == "msc") + rlogis(n)
sim$who_day28 <- as.integer(cut(lat, c(-Inf, -1.5, -0.5, 0.3, 1, 1.6, 2.2, 2.8, 3.3, Inf))) + 1  # levels 2..10
sim$died <- as.integer(sim$who_day28 == 10)
sim$age65 <- ifelse(sim$age >= 65, "65-and-over", "under-65")
t_dis <- ceiling(rexp(n, 1 / (8 * exp(0.5 * sev - 0.2 * (sim$arm == "msc")))))
t_death <- ifelse(sim$died == 1, sample(2:27, n, TRUE), Inf)
sim$discharge_time <- pmin(t_dis, t_death, 28)
sim$discharge_status <- ifelse(t_death < t_dis & t_death <= 28, 2, ifelse(t_dis <= 28, 1, 0))
sim$spo2 <- round(95 - 2 * sev + 0.8 * (sim$arm == "msc") + rnorm(n, 0, 2.5), 1)
write.csv(sim, file.path(out_dir, "analyze_sim.csv"), row.names = FALSE)

# ---- binary -------------------------------------------------------------------------------------------------
two_by_two <- function(x1, n1, x0, n0) {
  tab <- matrix(c(x1, n1 - x1, x0, n0 - x0), 2, byrow = TRUE)
  ft <- fisher.test(tab)
  y <- c(rep(1, x1), rep(0, n1 - x1), rep(1, x0), rep(0, n0 - x0))
  g <- c(rep(1, n1), rep(0, n0))
  out <- list(x1 = x1, n1 = n1, x0 = x0, n0 = n0,
              fisher_or = num(ft$estimate), fisher_low = num(ft$conf.int[1]), fisher_high = num(ft$conf.int[2]),
              fisher_p = ft$p.value,
              prop_test_p = suppressWarnings(prop.test(c(x1, x0), c(n1, n0), correct = FALSE)$p.value),
              wilson1 = num(suppressWarnings(prop.test(x1, n1, correct = FALSE)$conf.int)),
              wilson0 = num(suppressWarnings(prop.test(x0, n0, correct = FALSE)$conf.int)),
              clopper1 = num(binom.test(x1, n1)$conf.int))
  if (all(c(x1, n1 - x1, x0, n0 - x0) > 0)) {  # saturated GLMs give the Woolf and Katz intervals
    lo <- glm(y ~ g, family = binomial); lr <- glm(y ~ g, family = binomial(link = "log"))
    out$log_or <- num(coef(lo)[2]); out$se_log_or <- num(sqrt(vcov(lo)[2, 2]))
    out$log_rr <- num(coef(lr)[2]); out$se_log_rr <- num(sqrt(vcov(lr)[2, 2]))
  }
  out
}
esc <- function(measure) { e <- escalc(measure, ai = 0, n1i = 10, ci = 4, n2i = 12, add = 0.5, to = "only0")
  list(yi = num(e$yi), vi = num(e$vi)) }
res$zero_cell_corrected <- list(OR = esc("OR"), RR = esc("RR"))
res$two_by_two <- list(sim_died = with(sim, two_by_two(sum(died[arm == "msc"]), sum(arm == "msc"),
                                                        sum(died[arm == "placebo"]), sum(arm == "placebo"))),
                       small = two_by_two(3, 11, 8, 12), zero = two_by_two(0, 10, 4, 12))
# Mantel-Haenszel across severity strata (metafor rma.mh and mantelhaen.test)
tabs <- lapply(split(sim, sim$severity), function(d) c(ai = sum(d$died[d$arm == "msc"]), n1 = sum(d$arm == "msc"),
                                                      ci = sum(d$died[d$arm == "placebo"]), n2 = sum(d$arm == "placebo")))
tabs <- as.data.frame(do.call(rbind, tabs))
mh <- function(measure) {
  m <- rma.mh(ai = ai, n1i = n1, ci = ci, n2i = n2, data = tabs, measure = measure, to = "none", drop00 = FALSE)
  list(estimate = num(m$beta), se = num(m$se), ci_low = num(m$ci.lb), ci_high = num(m$ci.ub), p = num(m$pval))
}
arr <- array(NA, c(2, 2, nrow(tabs)))
for (k in seq_len(nrow(tabs))) arr[, , k] <- matrix(c(tabs$ai[k], tabs$n1[k] - tabs$ai[k], tabs$ci[k], tabs$n2[k] - tabs$ci[k]), 2, byrow = TRUE)
res$mantel_haenszel <- list(strata = rownames(tabs), tables = tabs, OR = mh("OR"), RR = mh("RR"), RD = mh("RD"),
                            cmh_chisq = num(mantelhaen.test(arr, correct = FALSE)$statistic),
                            cmh_p = mantelhaen.test(arr, correct = FALSE)$p.value)
# zero cells in one stratum
tabs0 <- data.frame(ai = c(0, 3, 5), n1 = c(10, 20, 30), ci = c(2, 6, 9), n2 = c(11, 19, 30))
mh0 <- function(measure) { m <- rma.mh(ai = ai, n1i = n1, ci = ci, n2i = n2, data = tabs0, measure = measure,
                                       to = "none", drop00 = FALSE)
  list(estimate = num(m$beta), se = num(m$se)) }
res$mantel_haenszel_zero <- list(tables = tabs0, OR = mh0("OR"), RR = mh0("RR"), RD = mh0("RD"))
lg <- glm(died ~ I(arm == "msc") + severity + age, family = binomial, data = sim)
res$logistic <- list(coef = num(coef(lg)), se = num(sqrt(diag(vcov(lg)))), loglik = num(logLik(lg)),
                     names = names(coef(lg)))

# ---- ordinal ------------------------------------------------------------------------------------------------
po <- function(d, formula, nominal_formula, arm_name) {
  f <- clm(formula, data = d)
  nm <- clm(nominal_formula$f, nominal = nominal_formula$nominal, data = d)
  a <- anova(f, nm)
  list(beta = num(coef(f)[arm_name]), se = num(sqrt(diag(vcov(f)))[arm_name]), thresholds = num(f$alpha),
       coef = as.list(coef(f)), se_all = as.list(sqrt(diag(vcov(f)))), loglik = num(logLik(f)),
       lr_chisq = num(a$LR.stat[2]), lr_df = num(a$df[2]), lr_p = num(a$`Pr(>Chisq)`[2]))
}
wine2$warm <- wine2$arm == "warm"
res$ordinal <- list(
  wine = po(transform(wine2, y = factor(rating)), y ~ warm + contact,
            list(f = y ~ contact, nominal = ~warm), "warmTRUE"),
  sim = po(transform(sim, y = factor(who_day28), msc = arm == "msc"), y ~ msc + severity + age,
           list(f = y ~ severity + age, nominal = ~msc), "mscTRUE"),
  sim_unadjusted = po(transform(sim, y = factor(who_day28), msc = arm == "msc"), y ~ msc,
                      list(f = y ~ 1, nominal = ~msc), "mscTRUE"))
w <- wilcox.test(who_day28 ~ factor(arm, levels = c("msc", "placebo")), data = sim, exact = FALSE, correct = TRUE)
res$wilcoxon <- list(W = num(w$statistic), p = w$p.value)
w2 <- wilcox.test(rating ~ factor(arm, levels = c("warm", "cold")), data = wine2, exact = FALSE, correct = TRUE)
res$wilcoxon_wine <- list(W = num(w2$statistic), p = w2$p.value)

# ---- time to event -------------------------------------------------------------------------------------------
km_list <- function(fit) {
  s <- summary(fit, censored = TRUE)
  q <- quantile(fit, 0.5)
  lapply(seq_along(fit$strata), function(i) {
    z <- fit[i]
    list(stratum = names(fit$strata)[i], time = z$time, n_risk = z$n.risk, n_event = z$n.event, surv = z$surv,
         std_err = z$std.err, lower = z$lower, upper = z$upper,
         median = num(q$quantile[i]), median_low = num(q$lower[i]), median_high = num(q$upper[i]))
  })
}
cox <- function(fit) list(coef = as.list(coef(fit)), se = as.list(sqrt(diag(vcov(fit)))), loglik = num(fit$loglik),
                          score = num(fit$score), wald = num(fit$wald.test))
res$lung <- list(km = km_list(survfit(Surv(time, event) ~ arm, data = lung2)),
                 km_loglog = km_list(survfit(Surv(time, event) ~ arm, data = lung2, conf.type = "log-log")),
                 logrank = num(survdiff(Surv(time, event) ~ arm, data = lung2)$chisq),
                 cox = cox(coxph(Surv(time, event) ~ I(arm == "female") + age + ph.ecog, data = lung2)),
                 cox_breslow = cox(coxph(Surv(time, event) ~ I(arm == "female") + age + ph.ecog, data = lung2,
                                         ties = "breslow")))
res$veteran <- list(km = km_list(survfit(Surv(time, status) ~ arm, data = vet)),
                    logrank = num(survdiff(Surv(time, status) ~ arm, data = vet)$chisq),
                    logrank_strat = num(survdiff(Surv(time, status) ~ arm + strata(celltype), data = vet)$chisq),
                    cox = cox(coxph(Surv(time, status) ~ I(arm == "test") + karno + strata(celltype), data = vet)),
                    cox_unadjusted = cox(coxph(Surv(time, status) ~ I(arm == "test"), data = vet)))
# Aalen-Johansen: discharge with death as competing risk, by arm
aj <- lapply(c("msc", "placebo"), function(a) {
  d <- sim[sim$arm == a, ]
  f <- survfit(Surv(discharge_time, factor(discharge_status, 0:2, c("censor", "discharge", "death"))) ~ 1, data = d)
  list(arm = a, time = f$time, discharge = f$pstate[, 2], death = f$pstate[, 3], n_risk = f$n.risk[, 1],
       std_err = f$std.err[, 2], lower = f$lower[, 2], upper = f$upper[, 2])
})
res$aalen_johansen <- aj
sim_cs <- transform(sim, ev = as.integer(discharge_status == 1), msc = arm == "msc")
res$sim_cox <- cox(coxph(Surv(discharge_time, ev) ~ msc + age + strata(severity), data = sim_cs))
res$sim_logrank_strat <- num(survdiff(Surv(discharge_time, ev) ~ msc + strata(severity), data = sim_cs)$chisq)

# ---- continuous -----------------------------------------------------------------------------------------------
tw <- t.test(spo2 ~ factor(arm, levels = c("msc", "placebo")), data = sim)
tp <- t.test(spo2 ~ factor(arm, levels = c("msc", "placebo")), data = sim, var.equal = TRUE)
an <- lm(spo2 ~ I(arm == "msc") + severity + age, data = sim)
res$continuous <- list(welch = list(ci = num(tw$conf.int), p = tw$p.value),
                       pooled = list(ci = num(tp$conf.int), p = tp$p.value),
                       ancova = list(est = num(coef(an)[2]), se = num(sqrt(vcov(an)[2, 2])),
                                     ci = num(confint(an)[2, ]), p = summary(an)$coefficients[2, 4]))

# ---- Bayesian: numerical integration -------------------------------------------------------------------------
bb <- function(xe, ne, xc, nc, r) {  # P(p_e < r p_c), Beta(1, 1) priors
  integrate(function(x) dbeta(x, 1 + xc, 1 + nc - xc) * pbeta(pmin(1, r * x), 1 + xe, 1 + ne - xe), 0, 1,
            rel.tol = 1e-12, subdivisions = 1000)$value
}
res$beta_binomial <- list(xe = 12, ne = 60, xc = 20, nc = 60, p_rr_below_1 = bb(12, 60, 20, 60, 1),
                          p_rr_below_0.8 = bb(12, 60, 20, 60, 0.8))
# normal prior N(0, 0.5^2) on log OR x normal likelihood (estimate 0.35, se 0.2): posterior by integration
lik <- function(b) dnorm(0.35, b, 0.2) * dnorm(b, 0, 0.5)
z <- integrate(lik, -Inf, Inf, rel.tol = 1e-12)$value
res$normal_posterior <- list(estimate = 0.35, se = 0.2, prior_sd = 0.5,
                             p_benefit = integrate(lik, 0, Inf, rel.tol = 1e-12)$value / z,
                             p_or_above_1.2 = integrate(lik, log(1.2), Inf, rel.tol = 1e-12)$value / z)


# ---- Bayesian proportional odds: Laplace-approximate marginal posterior, integrated by integrate() ----------
# log p(b | y) = l(b) - log det(Hessian of the nuisance parameters) / 2 + log prior, clm refitted with offset(b * msc)
po_post <- local({
  d <- transform(sim, y = factor(who_day28), msc = as.numeric(arm == "msc"))
  full <- clm(y ~ msc + severity + age, data = d)
  bh <- coef(full)[["msc"]]; se <- sqrt(vcov(full)["msc", "msc"])
  logpost <- function(b) {  # b on clm's scale; the prior N(0, 1) is on the odds ratio for a lower level, -b
    d$off <- b * d$msc
    f <- clm(y ~ severity + age + offset(off), data = d)
    as.numeric(logLik(f)) - 0.5 * as.numeric(determinant(f$Hessian)$modulus) + dnorm(-b, 0, 1, log = TRUE)
  }
  m <- logpost(bh)
  dens <- function(b) sapply(b, function(x) exp(logpost(x) - m))
  lo <- bh - 7 * se; hi <- bh + 7 * se
  z <- integrate(dens, lo, hi, rel.tol = 1e-9)$value
  list(prior_sd = 1, p_benefit = integrate(dens, lo, 0, rel.tol = 1e-9)$value / z,  # -b > 0  <=>  b < 0
       p_or_above_1.2 = integrate(dens, lo, -log(1.2), rel.tol = 1e-9)$value / z)
})
res$po_posterior <- po_post
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), file.path(out_dir, "analyze.json"))
cat("wrote", file.path(out_dir, "analyze.json"), "\n")
