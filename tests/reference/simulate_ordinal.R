# Reference values for the proportional-odds score test used by equipoise.simulate (OrdinalEndpoint):
# the Wilcoxon-Mann-Whitney z with mid-ranks and the tie-corrected normal approximation, which is the score
# test of the proportional-odds model (McCullagh 1980; Whitehead 1993), on fixed tables of counts.
# Run from the repository root:  Rscript tests/reference/simulate_ordinal.R
suppressPackageStartupMessages(library(jsonlite))
tables <- list(
  list(treatment = c(30, 40, 20, 10), control = c(20, 45, 25, 10)),
  list(treatment = c(0, 3, 25, 15, 12, 8, 6, 5, 4, 4, 18), control = c(0, 2, 20, 14, 13, 9, 7, 6, 5, 5, 19)),
  list(treatment = c(5, 1, 0, 2), control = c(1, 2, 4, 3))
)
cases <- lapply(tables, function(t) {
  k <- length(t$treatment)
  x <- rep(seq_len(k), t$treatment)  # category index, best first
  y <- rep(seq_len(k), t$control)
  w <- wilcox.test(y, x, exact = FALSE, correct = FALSE)  # positive when treatment categories are lower (better)
  n1 <- length(x); n2 <- length(y)
  z <- (w$statistic - n1 * n2 / 2) / sqrt(
    n1 * n2 / 12 * ((n1 + n2 + 1) - sum(table(c(x, y))^3 - table(c(x, y))) / ((n1 + n2) * (n1 + n2 - 1))))
  list(treatment = t$treatment, control = t$control, wilcoxon_z = unname(z), p_value = w$p.value)
})
writeLines(toJSON(list(cases = cases), auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/fixtures/simulate_ordinal.json")
cat("wrote tests/reference/fixtures/simulate_ordinal.json\n")
