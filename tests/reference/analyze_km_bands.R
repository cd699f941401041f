# Reference values for the Kaplan-Meier simultaneous confidence bands (equipoise.analyze.km_bands), written to
# tests/reference/fixtures/analyze_km_bands.json. Run from the repository root:
#   Rscript tests/reference/analyze_km_bands.R        (about two minutes)
# Needs R >= 4.2 with survival and jsonlite. km.ci (which reads the bands' critical values from Klein &
# Moeschberger's printed tables) and KMsurv are not installable here, so this script computes everything itself:
#   * sigma_S^2(t) is survfit's std.err^2 (Greenwood's variance / S(t)^2);
#   * Hall-Wellner critical values c_alpha(a_L, a_U): P(sup |bridge| <= c on [a_L, a_U]) as a double integral
#     (nested integrate(), no closed form for the inner integral) of the image-series strip density;
#   * equal-precision critical values e_alpha(a_L, a_U): the Ornstein-Uhlenbeck form of the problem solved by
#     second-order finite differences (symmetrised, eigen()), Richardson-extrapolated in the grid step: a
#     different method from the Chebyshev collocation in Python;
#   * the bands from Klein & Moeschberger (2003), Survival Analysis, 2nd ed., section 4.4, eqs 4.4.1-4.4.6.
suppressPackageStartupMessages({library(survival); library(jsonlite)})
out_dir <- "tests/reference/fixtures"
num <- function(x) unname(as.numeric(x))

# ---- critical values ------------------------------------------------------------------------------------------
hw_prob <- function(c, aL, aU) {
  tau <- aU - aL; v <- 1 - aU
  K <- ceiling(2.5 / c) + 3; k <- -K:K
  strip <- function(y, z) {  # density of Brownian motion from y to z in time tau, killed outside (-c, c)
    sapply(z, function(zz) sum(dnorm(zz - y - 4 * k * c, sd = sqrt(tau)) - dnorm(zz + y - 2 * c * (2 * k - 1), sd = sqrt(tau))))
  }
  to_zero <- function(z, s) if (s > 0) dnorm(z, sd = sqrt(s)) else NA
  inner <- function(y) {
    if (v <= 0) return(strip(y, 0))
    integrate(function(z) strip(y, z) * to_zero(z, v), -c, c, rel.tol = 1e-11, subdivisions = 1000L)$value
  }
  if (aL <= 0) return(inner(0) / dnorm(0))
  sdl <- sqrt(aL * (1 - aL)); far <- min(c, 12 * sdl)
  integrate(function(y) sapply(y, function(yy) dnorm(yy, sd = sdl) / dnorm(yy, sd = sqrt(1 - aL)) * inner(yy)),
            -far, far, rel.tol = 1e-11, subdivisions = 1000L)$value
}
hw_crit <- function(aL, aU, level) uniroot(function(c) hw_prob(c, aL, aU) - level, c(0.05, 3), tol = 1e-11)$root

ep_prob_fd <- function(e, span, M) {
  # OU generator u'' / 2 - x u' / 2 on (-e, e), zero at the ends, central differences; D^(-1/2) A D^(1/2) with
  # D = diag(phi) is symmetric, so exp(A span) 1 comes from one symmetric eigen-decomposition
  h <- 2 * e / M; x <- -e + h * (1:(M - 1))
  up <- 0.5 / h^2 - x[-length(x)] / (4 * h); lo <- 0.5 / h^2 + x[-1] / (4 * h)
  off <- sqrt(up * lo)
  S <- diag(rep(-1 / h^2, M - 1)); S[cbind(1:(M - 2), 2:(M - 1))] <- off; S[cbind(2:(M - 1), 1:(M - 2))] <- off
  # A = G S G^-1 with G = diag(g), g_{i+1} / g_i = sqrt(lo_i / up_i)
  g <- exp(cumsum(c(0, 0.5 * log(lo / up))))
  ev <- eigen(S, symmetric = TRUE)
  q <- g * (ev$vectors %*% (exp(ev$values * span) * crossprod(ev$vectors, 1 / g)))
  h * sum(dnorm(x) * q)  # trapezoid rule; the integrand is 0 at the ends
}
ep_prob <- function(e, aL, aU) {
  span <- log(aU * (1 - aL) / (aL * (1 - aU)))
  p1 <- ep_prob_fd(e, span, 300); p2 <- ep_prob_fd(e, span, 600)
  (4 * p2 - p1) / 3  # O(h^2) error removed
}
ep_crit <- function(aL, aU, level) {
  z <- qnorm(0.5 + level / 2)
  uniroot(function(e) ep_prob(e, aL, aU) - level, c(z, z + 2), tol = 1e-9)$root
}

levels <- c(0.90, 0.95, 0.99)
hw_grid <- expand.grid(a_lower = c(0, 0.02, 0.1, 0.2, 0.4), a_upper = c(0.1, 0.3, 0.6, 0.98, 1.0))
hw_grid <- hw_grid[hw_grid$a_lower < hw_grid$a_upper, ]
ep_grid <- expand.grid(a_lower = c(0.02, 0.1, 0.2, 0.4), a_upper = c(0.1, 0.3, 0.6, 0.98))
ep_grid <- ep_grid[ep_grid$a_lower < ep_grid$a_upper, ]
crit_table <- function(grid, fun) lapply(seq_len(nrow(grid)), function(i) {
  list(a_lower = grid$a_lower[i], a_upper = grid$a_upper[i],
       values = setNames(as.list(sapply(levels, function(l) fun(grid$a_lower[i], grid$a_upper[i], l))),
                         sprintf("%.2f", levels)))
})
res <- list(r_version = R.version.string, survival = as.character(packageVersion("survival")),
            hall_wellner_critical = crit_table(hw_grid, hw_crit),
            equal_precision_critical = crit_table(ep_grid, ep_crit),
            hall_wellner_probability = list(
              list(c = 1.0, a_lower = 0.1, a_upper = 0.6, p = hw_prob(1.0, 0.1, 0.6)),
              list(c = 0.8, a_lower = 0.25, a_upper = 0.35, p = hw_prob(0.8, 0.25, 0.35)),
              list(c = 0.5, a_lower = 0.05, a_upper = 0.2, p = hw_prob(0.5, 0.05, 0.2))),
            equal_precision_probability = list(
              list(e = 2.8, a_lower = 0.1, a_upper = 0.6, p = ep_prob(2.8, 0.1, 0.6)),
              list(e = 2.5, a_lower = 0.3, a_upper = 0.31, p = ep_prob(2.5, 0.3, 0.31)),
              list(e = 3.2, a_lower = 0.01, a_upper = 0.99, p = ep_prob(3.2, 0.01, 0.99))))

# ---- bands (K&M eqs 4.4.1-4.4.6) --------------------------------------------------------------------------------
band <- function(formula, data, tl, tu, method, transform, level) {
  fit <- survfit(formula, data = data)
  n <- fit$n
  sig2 <- fit$std.err^2
  at <- function(t) { i <- max(c(0, which(fit$time <= t))); if (i == 0) c(1, 0) else c(fit$surv[i], sig2[i]) }
  L <- at(tl); U <- at(tu)
  aL <- n * L[2] / (1 + n * L[2]); aU <- n * U[2] / (1 + n * U[2])
  crit <- if (method == "hall-wellner") hw_crit(aL, aU, level) else ep_crit(aL, aU, level)
  keep <- fit$time > tl & fit$time <= tu & fit$n.event > 0
  time <- c(tl, fit$time[keep]); S <- c(L[1], fit$surv[keep]); s2 <- c(L[2], sig2[keep])
  half <- if (method == "hall-wellner") crit * (1 + n * s2) / sqrt(n) else crit * sqrt(s2)
  if (transform == "linear") {
    lower <- pmax(0, S - half * S); upper <- pmin(1, S + half * S)
  } else if (transform == "log-log") {
    theta <- exp(half / log(S)); lower <- S^(1 / theta); upper <- S^theta
  } else {
    r <- asin(sqrt(S)); sh <- 0.5 * half * sqrt(S / (1 - S))
    lower <- sin(pmax(0, r - sh))^2; upper <- sin(pmin(pi / 2, r + sh))^2
  }
  pointwise <- c(linear = "plain", `log-log` = "log-log", arcsine = "arcsin")[[transform]]
  pw <- summary(survfit(formula, data = data, conf.type = pointwise, conf.int = level), times = time)
  list(method = method, transform = transform, conf_level = level, t_lower = tl, t_upper = tu, n = n,
       a_lower = aL, a_upper = aU, critical_value = crit, time = time, surv = S, lower = lower, upper = upper,
       pointwise_lower = num(pw$lower), pointwise_upper = num(pw$upper))
}

# Klein & Moeschberger (2003), Example 4.2: disease-free survival of the 38 ALL patients of the bone marrow
# transplant study (their section 1.3, Table 1.3; KMsurv::bmt group 1, columns t2 and d3), band on 100-600 days.
all_bmt <- data.frame(
  t2 = c(2081, 1602, 1496, 1462, 1433, 1377, 1330, 996, 226, 1199, 1111, 530, 1182, 1167, 418, 383, 276, 104,
         609, 172, 487, 662, 194, 230, 526, 122, 129, 74, 122, 86, 466, 192, 109, 55, 1, 107, 110, 332),
  d3 = c(rep(0, 14), rep(1, 24)))
write.csv(all_bmt, file.path(out_dir, "analyze_bmt_all.csv"), row.names = FALSE)
f_all <- Surv(t2, d3) ~ 1
bands <- list()
for (m in c("hall-wellner", "equal-precision")) for (tr in c("linear", "log-log", "arcsine"))
  bands[[length(bands) + 1]] <- c(list(dataset = "bmt_all"), band(f_all, all_bmt, 100, 600, m, tr, 0.95))
bands[[length(bands) + 1]] <- c(list(dataset = "bmt_all"), band(f_all, all_bmt, 100, 600, "hall-wellner", "log-log", 0.90))
bands[[length(bands) + 1]] <- c(list(dataset = "bmt_all"), band(f_all, all_bmt, 100, 600, "equal-precision", "arcsine", 0.99))
# the Hall-Wellner band may start before the first event (a_L = 0)
bands[[length(bands) + 1]] <- c(list(dataset = "bmt_all"), band(f_all, all_bmt, 0, 600, "hall-wellner", "linear", 0.95))
# survival::veteran, standard treatment (n = 69), over the default range: first event to the last event with S > 0
vet_std <- subset(survival::veteran, trt == 1)[, c("time", "status")]
write.csv(vet_std, file.path(out_dir, "analyze_veteran_standard.csv"), row.names = FALSE)
f_vet <- Surv(time, status) ~ 1
fit_vet <- survfit(f_vet, data = vet_std)
tu_vet <- max(fit_vet$time[fit_vet$n.event > 0 & fit_vet$n.risk > fit_vet$n.event])
for (m in c("hall-wellner", "equal-precision"))
  bands[[length(bands) + 1]] <- c(list(dataset = "veteran_standard"),
                                  band(f_vet, vet_std, min(fit_vet$time[fit_vet$n.event > 0]), tu_vet, m, "log-log", 0.95))
res$bands <- bands
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           file.path(out_dir, "analyze_km_bands.json"))
cat("wrote", file.path(out_dir, "analyze_km_bands.json"), "\n")
