# Reference values for equipoise.evidence.tsa from RTSA (the R successor of the Copenhagen Trial Unit's TSA
# program), on RTSA's own example data perioOxy (15 trials of perioperative oxygen, surgical site infection).
# Run: Rscript tests/reference/tsa_rtsa.R  (writes tests/reference/fixtures/tsa_rtsa.json; CI needs no R).
# RTSA is not a Debian package: install it from CRAN (install.packages("RTSA")) or from its CRAN mirror's source
# (R CMD INSTALL, github.com/cran/RTSA, version 0.2.2); CompQuadForm is not needed with tau_ci_method = "QP".
suppressPackageStartupMessages({library(RTSA); library(jsonlite)})

data(perioOxy)
call <- paste('RTSA(type = "analysis", data = perioOxy, outcome = "RR", mc = 0.8, side = 2, alpha = 0.05,',
              'beta = 0.2, fixed = FALSE, es_alpha = "esOF", futility = "none", random_adj = "D2",',
              're_method = "DL", tau_ci_method = "QP")')
x <- suppressWarnings(eval(parse(text = call)))
u <- x$results$metaanalysis$synthesize$U
looks <- x$results$results_df[seq_len(nrow(perioOxy)), ]
out <- list(
  source = paste("RTSA", as.character(packageVersion("RTSA")), "(CRAN); dataset perioOxy shipped with RTSA"),
  call = call,
  data = list(study = as.character(perioOxy$study), events_treatment = perioOxy$eI, n_treatment = perioOxy$nI,
              events_control = perioOxy$eC, n_control = perioOxy$nC),
  control_risk = x$ris$settings$pC, rrr = 1 - 0.8, alpha = 0.05, beta = 0.2,
  ris_fixed = x$ris$NF$NF_full, tau2 = u[[1]], i2 = u[[3]], d2 = u[[4]], daris = x$ris$NR_D2$NR_D2_full,
  sequential_ris = x$results$SMA_HARIS,
  z_random = looks$z_random, z_fixed_mh = looks$z_fixed, sma_timing = looks$sma_timing, upper = looks$upper)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null"),
           file.path("tests", "reference", "fixtures", "tsa_rtsa.json"))
