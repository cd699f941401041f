# Reference values for equipoise.evidence (meta-analysis) from metafor, on datasets of metadat.
# Run: Rscript tests/reference/meta.R  (writes tests/reference/fixtures/meta.json; inputs included, CI needs no R)
# metafor defaults throughout (escalc add=1/2, to="only0"; rma.mh/rma.peto drop00=TRUE for the Q statistics;
# confint type QP; predict; regtest model="rma", predictor="sei"; cumul; leave1out).
suppressPackageStartupMessages({library(metafor); library(jsonlite)})

bin <- function(name, study, ai, n1i, ci, n2i, year = NULL, group = NULL)
  list(name = name, kind = "binary", study = as.character(study), year = year, group = group,
       values = list(events_treatment = ai, n_treatment = n1i, events_control = ci, n_control = n2i))
cont <- function(name, study, n1i, m1i, sd1i, n2i, m2i, sd2i, year = NULL, group = NULL)
  list(name = name, kind = "continuous", study = as.character(study), year = year, group = group,
       values = list(n_treatment = n1i, mean_treatment = m1i, sd_treatment = sd1i, n_control = n2i,
                     mean_control = m2i, sd_control = sd2i))
gen <- function(name, study, yi, sei, year = NULL, group = NULL)
  list(name = name, kind = "generic", study = as.character(study), year = year, group = group,
       values = list(estimate = yi, se = sei))

d <- list()
x <- dat.bcg
d[[length(d) + 1]] <- bin("bcg", x$author, x$tpos, x$tpos + x$tneg, x$cpos, x$cpos + x$cneg, x$year, x$alloc)
x <- dat.collins1985a
d[[length(d) + 1]] <- bin("collins1985a", x$trial, x$b.xti, x$nti, x$b.xci, x$nci, x$year)
for (tb in c("6", "14", "17", "20", "27", "33")) {
  x <- dat.yusuf1985[dat.yusuf1985$table == tb & !is.na(dat.yusuf1985$ai), ]
  if (nrow(x) >= 3) d[[length(d) + 1]] <- bin(paste0("yusuf1985_", tb), x$trial, x$ai, x$n1i, x$ci, x$n2i)
}
x <- dat.egger2001
d[[length(d) + 1]] <- bin("egger2001", x$study, x$ai, x$n1i, x$ci, x$n2i, x$year)
x <- dat.hine1989
d[[length(d) + 1]] <- bin("hine1989", x$study, x$ai, x$n1i, x$ci, x$n2i)
x <- dat.nielweise2007
d[[length(d) + 1]] <- bin("nielweise2007", x$author, x$ai, x$n1i, x$ci, x$n2i, x$year)
x <- dat.lee2004
d[[length(d) + 1]] <- bin("lee2004", x$study, x$ai, x$n1i, x$ci, x$n2i, x$year)
x <- dat.li2007
d[[length(d) + 1]] <- bin("li2007", x$study, x$ai, x$n1i, x$ci, x$n2i, x$year)
x <- dat.linde2005
d[[length(d) + 1]] <- bin("linde2005", x$study, x$ai, x$n1i, x$ci, x$n2i, x$year, x$country)
x <- dat.anand1999
d[[length(d) + 1]] <- bin("anand1999", x$study, x$ai, x$n1i, x$ci, x$n2i, x$year, x$intensity)
x <- dat.axfors2021[!is.na(dat.axfors2021$hcq_arm_event), ]
d[[length(d) + 1]] <- bin("axfors2021", x$acronym, x$hcq_arm_event, x$hcq_arm_total, x$control_arm_event,
                          x$control_arm_total, NULL, x$patient_setting)
x <- dat.damico2009
d[[length(d) + 1]] <- bin("damico2009", x$study, x$xt, x$nt, x$xc, x$nc, x$year, x$conceal)
x <- dat.graves2010
d[[length(d) + 1]] <- bin("graves2010", x$study, x$ai, x$n1i, x$ci, x$n2i)
x <- dat.hahn2001
d[[length(d) + 1]] <- bin("hahn2001", x$study, x$ai, x$n1i, x$ci, x$n2i)
x <- dat.laopaiboon2015
d[[length(d) + 1]] <- bin("laopaiboon2015", x$author, x$ai, x$n1i, x$ci, x$n2i, x$year)
x <- dat.dorn2007
d[[length(d) + 1]] <- bin("dorn2007", x$study, x$x.a, x$n.a, x$x.p, x$n.p, x$year)
x <- dat.viechtbauer2021
d[[length(d) + 1]] <- bin("viechtbauer2021", x$trial, x$xTi, x$nTi, x$xCi, x$nCi)
x <- dat.normand1999
d[[length(d) + 1]] <- cont("normand1999", x$source, x$n1i, x$m1i, x$sd1i, x$n2i, x$m2i, x$sd2i)
x <- dat.curtis1998[1:40, ]
d[[length(d) + 1]] <- cont("curtis1998", paste(x$paper, x$id), x$n1i, x$m1i, x$sd1i, x$n2i, x$m2i, x$sd2i,
                           NULL, x$fungrp)
x <- dat.gibson2002[!is.na(dat.gibson2002$m1i), ]
d[[length(d) + 1]] <- cont("gibson2002", paste(x$author, x$year), x$n1i, x$m1i, x$sd1i, x$n2i, x$m2i, x$sd2i,
                           x$year)
x <- dat.raudenbush1985
d[[length(d) + 1]] <- gen("raudenbush1985", paste(x$author, x$year), x$yi, sqrt(x$vi), x$year, x$tester)
x <- dat.bangertdrowns2004
d[[length(d) + 1]] <- gen("bangertdrowns2004", paste(x$author, x$id), x$yi, sqrt(x$vi), x$year)
x <- dat.begg1989
d[[length(d) + 1]] <- gen("begg1989", paste(x$study, x$trt), x$yi, x$sei)
x <- dat.baskerville2012
d[[length(d) + 1]] <- gen("baskerville2012", paste(x$author, x$year), x$smd, x$se, x$year, x$blind)
x <- dat.hackshaw1998
d[[length(d) + 1]] <- gen("hackshaw1998", paste(x$author, x$study), x$yi, sqrt(x$vi), x$year, x$design)

num <- function(v) if (is.null(v) || length(v) == 0 || is.na(v)) NA else unname(as.numeric(v))[1]

summ <- function(fit, tau2ci = FALSE) {
  pr <- predict(fit)
  out <- list(beta = num(fit$beta), se = num(fit$se), ci_lb = num(fit$ci.lb), ci_ub = num(fit$ci.ub),
              tau2 = num(fit$tau2), i2 = num(fit$I2), h2 = num(fit$H2), q = num(fit$QE), q_p = num(fit$QEp),
              k = fit$k, pi_lb = num(if (is.null(pr$pi.lb)) pr$ci.lb else pr$pi.lb),
              pi_ub = num(if (is.null(pr$pi.ub)) pr$ci.ub else pr$pi.ub), stat = num(fit$zval), p = num(fit$pval))
  if (tau2ci) {
    ci <- confint(fit)$random
    out$tau2_ci_lb <- num(ci["tau^2", "ci.lb"]); out$tau2_ci_ub <- num(ci["tau^2", "ci.ub"])
  }
  out
}

fit_one <- function(ds, measure, method, test, add = 1/2, to = "only0", drop00 = NULL) {
  v <- ds$values
  if (ds$kind == "binary") {
    args <- list(measure = measure, ai = v$events_treatment, n1i = v$n_treatment, ci = v$events_control,
                 n2i = v$n_control, add = add, to = to)
    if (!is.null(drop00)) args$drop00 <- drop00
    if (method == "MH") return(do.call(rma.mh, args))
    if (method == "Peto") { args$measure <- NULL; return(do.call(rma.peto, args)) }
    es <- do.call(escalc, args)
  } else if (ds$kind == "continuous") {
    es <- escalc(measure, m1i = v$mean_treatment, sd1i = v$sd_treatment, n1i = v$n_treatment,
                 m2i = v$mean_control, sd2i = v$sd_control, n2i = v$n_control)
  } else {
    es <- data.frame(yi = v$estimate, vi = v$se^2)
  }
  rma(yi, vi, data = es, method = method, test = test)
}

sub_fits <- function(ds, fit, measure, method, test) {
  # a separate model per subgroup, then the fixed-effect Q of the subgroup estimates
  g <- ds$group; lev <- unique(g); res <- list(); b <- c(); s <- c()
  for (l in lev) {
    idx <- which(g == l)
    sub <- ds; sub$values <- lapply(ds$values, function(a) a[idx])
    f <- fit_one(sub, measure, method, test)
    res[[length(res) + 1]] <- c(list(name = as.character(l)), summ(f))
    if (is.finite(f$se) && f$se > 0) { b <- c(b, f$beta); s <- c(s, f$se) }
  }
  qb <- if (length(b) >= 2) rma(b, sei = s, method = "FE") else NULL
  list(groups = res, q_between = if (is.null(qb)) NA else qb$QE, p_between = if (is.null(qb)) NA else qb$QEp)
}

steps <- function(res) lapply(seq_along(res$estimate), function(i)
  list(estimate = num(res$estimate[i]), ci_lb = num(res$ci.lb[i]), ci_ub = num(res$ci.ub[i]),
       tau2 = num(if (is.null(res$tau2)) 0 else res$tau2[i]), i2 = num(res$I2[i]), q = num(res$Q[i])))

cases <- list()
add_case <- function(ds, measure, method, test, extras = FALSE, add = 1/2, to = "only0", drop00 = NULL) {
  fit <- tryCatch(suppressWarnings(fit_one(ds, measure, method, test, add, to, drop00)), error = function(e) NULL)
  if (is.null(fit)) return(invisible())
  random <- !(method %in% c("FE", "MH", "Peto"))
  out <- list(dataset = ds$name, measure = measure, method = method, hksj = test == "knha",
              add = add, to = to, drop00 = if (is.null(drop00)) NA else drop00,
              result = summ(fit, tau2ci = random && fit$k > 1))
  if (extras) {
    ord <- if (is.null(ds$year)) seq_along(ds$study) else order(ds$year, seq_along(ds$study))
    key <- integer(length(ord)); key[ord] <- seq_along(ord)  # cumul's order is a sort key
    out$cumulative <- steps(suppressWarnings(do.call(cumul, list(fit, order = key))))
    out$leave1out <- steps(suppressWarnings(leave1out(fit)))
    if (fit$k >= 3) {
      eg <- tryCatch(suppressWarnings(regtest(fit)), error = function(e) NULL)
      if (!is.null(eg)) out$egger <- list(stat = num(eg$zval), p = num(eg$pval))
    }
    if (!is.null(ds$group)) {
      sg <- tryCatch(suppressWarnings(sub_fits(ds, fit, measure, method, test)), error = function(e) NULL)
      if (!is.null(sg)) out$subgroups <- sg
    }
  }
  cases[[length(cases) + 1]] <<- out
}

for (ds in d) {
  measures <- switch(ds$kind, binary = c("RR", "OR", "RD"), continuous = c("MD", "SMD"), generic = "GEN")
  for (m in measures) {
    add_case(ds, m, "FE", "z", extras = TRUE)
    for (meth in c("DL", "REML", "ML", "PM", "SJ", "HE", "HS", "EB"))
      for (test in c("z", "knha")) add_case(ds, m, meth, test, extras = meth %in% c("DL", "REML"))
    if (ds$kind == "binary") add_case(ds, m, "MH", "z", extras = TRUE)
  }
  if (ds$kind == "binary") {
    add_case(ds, "OR", "Peto", "z", extras = TRUE)
    # the zero-cell alternatives
    if (any(ds$values$events_treatment == 0 | ds$values$events_control == 0)) {
      for (to in c("all", "if0all", "none")) add_case(ds, "RR", "REML", "z", to = to)
      add_case(ds, "OR", "DL", "z", drop00 = TRUE)
      add_case(ds, "RR", "DL", "z", add = 1)
    }
  }
}

out <- list(generated_by = "tests/reference/meta.R", metafor = as.character(packageVersion("metafor")),
            metadat = as.character(packageVersion("metadat")), datasets = d, cases = cases)
dir.create("tests/reference/fixtures", showWarnings = FALSE)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null"),
           "tests/reference/fixtures/meta.json")
cat(length(d), "datasets,", length(cases), "cases\n")
