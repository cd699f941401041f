# Reference values for the adaptive platform's posterior probabilities (equipoise.analyze.beta_quadrature and
# equipoise.analyze.po_laplace). Binary: Cook's (2005) exact sum for P(p_arm < p_control) with integer Beta
# parameters, and R's adaptive quadrature (integrate, rel.tol 1e-10) for margins, P(best) and P(all within d).
# Ordinal: maximum-likelihood proportional-odds fits by ordinal::clm (logit P(Y <= j) = theta_j - beta_arm) on
# fixed tables of counts; a Laplace fit with vague priors must give the same mode and covariance.
# Run from the repository root:  Rscript tests/reference/platform_posteriors.R
suppressPackageStartupMessages({library(jsonlite); library(ordinal)})

# P(X < Y), X ~ Beta(a1, b1), Y ~ Beta(a2, b2), a1 integer (Cook 2005, eq. for P(p_B > p_A) with roles swapped)
exact_less <- function(a1, b1, a2, b2) {
  # P(Y > X) = sum_{i=0}^{a2-1} B(a1+i, b1+b2) / ((b2+i) B(1+i, b2) B(a1, b1))  -> here X = arm, Y = control
  i <- 0:(a2 - 1)
  sum(exp(lbeta(a1 + i, b1 + b2) - log(b2 + i) - lbeta(1 + i, b2) - lbeta(a1, b1)))
}
q <- function(f) integrate(f, 0, 1, rel.tol = 1e-10, subdivisions = 2000L)$value

pairs <- list(c(29, 173, 41, 161), c(5, 16, 9, 12), c(120, 380, 131, 369), c(1, 1, 3, 2))
better <- lapply(pairs, function(p) {
  margins <- c(0, 0.02, 0.05)
  by_margin <- sapply(margins, function(m) q(function(y) dbeta(y, p[3], p[4]) * pbeta(y - m, p[1], p[2])))
  list(arm = p[1:2], control = p[3:4], exact = exact_less(p[1], p[2], p[3], p[4]), margins = margins,
       quadrature = by_margin)
})

sets <- list(list(a = c(30, 40, 35, 20), b = c(100, 90, 95, 80)), list(a = c(81, 96, 71), b = c(301, 281, 311)),
             list(a = c(3, 5, 2), b = c(9, 7, 10)))
best <- lapply(sets, function(s) {
  k <- length(s$a)
  lower <- sapply(seq_len(k), function(j) q(function(x) {
    v <- dbeta(x, s$a[j], s$b[j]); for (o in setdiff(seq_len(k), j)) v <- v * pbeta(x, s$a[o], s$b[o], lower.tail = FALSE); v }))
  higher <- sapply(seq_len(k), function(j) q(function(x) {
    v <- dbeta(x, s$a[j], s$b[j]); for (o in setdiff(seq_len(k), j)) v <- v * pbeta(x, s$a[o], s$b[o]); v }))
  within <- q(function(x) { tot <- 0; for (j in seq_len(k)) { v <- dbeta(x, s$a[j], s$b[j])
    for (o in setdiff(seq_len(k), j)) v <- v * (pbeta(pmin(x + 0.05, 1), s$a[o], s$b[o]) - pbeta(x, s$a[o], s$b[o]))
    tot <- tot + v }; tot })
  list(a = s$a, b = s$b, p_best_lower = lower, p_best_higher = higher, p_within_0.05 = within)
})

tables <- list(
  rbind(c(20, 30, 25, 15, 10), c(28, 32, 20, 12, 8), c(15, 25, 30, 18, 12)),
  rbind(c(5, 40, 18, 10, 8, 6, 4, 3, 3, 4, 24), c(8, 46, 17, 11, 7, 5, 3, 3, 2, 3, 17)),
  rbind(c(3, 4, 2), c(6, 2, 1), c(2, 3, 5), c(4, 4, 2))
)
ordinal_fits <- lapply(tables, function(t) {
  k <- ncol(t); a <- nrow(t)
  d <- data.frame(y = factor(rep(seq_len(k), a), levels = seq_len(k), ordered = TRUE),
                  arm = factor(rep(seq_len(a), each = k)), w = as.vector(t(t)))
  d <- d[d$w > 0, ]
  fit <- clm(y ~ arm, weights = w, data = d, link = "logit")
  v <- vcov(fit)
  list(counts = t, theta = unname(fit$alpha), beta = unname(fit$beta), vcov = unname(v), logLik = as.numeric(logLik(fit)))
})

writeLines(toJSON(list(better = better, best = best, ordinal = ordinal_fits), auto_unbox = TRUE, digits = NA,
                  pretty = TRUE, matrix = "rowmajor"), "tests/reference/fixtures/platform_posteriors.json")
cat("wrote tests/reference/fixtures/platform_posteriors.json\n")
