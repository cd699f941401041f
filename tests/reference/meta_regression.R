# Reference values for equipoise.evidence.meta_regression from metafor: rma(yi, vi, mods = ~ factor(g), method = M)
# on every dataset of tests/reference/fixtures/meta.json that has a subgroup column (written by meta.R from
# metadat). Levels in sorted (C-locale, radix) order, the first the reference level (R's treatment contrasts).
# Run: Rscript tests/reference/meta_regression.R  (writes tests/reference/fixtures/meta_regression.json)
suppressPackageStartupMessages({library(metafor); library(jsonlite)})

fixtures <- file.path("tests", "reference", "fixtures")
meta <- fromJSON(file.path(fixtures, "meta.json"), simplifyVector = FALSE)
num <- function(x) as.numeric(unlist(lapply(x, function(e) if (is.null(e)) NA else e)))
measures <- list(binary = c("RR", "OR"), continuous = c("MD", "SMD"), generic = c("GEN"))
methods <- c("FE", "DL", "REML", "ML", "PM", "SJ", "HE", "HS", "EB")
cases <- list()
for (ds in meta$datasets) {
  if (is.null(ds$group)) next
  g <- as.character(unlist(ds$group))
  v <- lapply(ds$values, num)
  for (measure in measures[[ds$kind]]) {
    es <- switch(ds$kind,
      binary = escalc(measure, ai = v$events_treatment, n1i = v$n_treatment, ci = v$events_control,
                      n2i = v$n_control),
      continuous = escalc(measure, n1i = v$n_treatment, m1i = v$mean_treatment, sd1i = v$sd_treatment,
                          n2i = v$n_control, m2i = v$mean_control, sd2i = v$sd_control),
      generic = data.frame(yi = v$estimate, vi = v$se^2))
    ok <- is.finite(es$yi) & is.finite(es$vi)
    f <- factor(g[ok], levels = sort(unique(g[ok]), method = "radix"))
    for (method in methods) {
      fit <- tryCatch(rma(es$yi[ok], es$vi[ok], mods = ~ f, method = method), error = function(e) NULL)
      if (is.null(fit)) next
      cases[[length(cases) + 1]] <- list(
        dataset = ds$name, measure = measure, method = method, levels = levels(f), k = fit$k,
        b = as.numeric(fit$b), se = as.numeric(fit$se), tau2 = fit$tau2, qm = fit$QM, qm_df = fit$QMdf[1],
        qm_p = fit$QMp, qe = fit$QE, qe_p = fit$QEp)
    }
  }
}
out <- list(metafor = as.character(packageVersion("metafor")), cases = cases)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null"),
           file.path(fixtures, "meta_regression.json"))
