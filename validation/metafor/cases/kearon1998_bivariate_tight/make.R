## Case: the bivariate (Reitsma-type) model of dat.kearon1998 fitted with rma.mv
## (struct = "UN", REML) at a converged optimum.
## metafor's default optimiser (nlminb: finite-difference gradients, rel.tol = 1e-10)
## stops where the REML gradient is still 1e-5 to 9e-5 (tau2/rho off by ~3e-5; the
## shared suite's kearon1998_diagnostic holds those default values), and nlminb with a
## smaller rel.tol ends in "false convergence".  newuoa (minqa) with rhoend = 1e-12
## reaches the optimum as closely as a derivative-free optimiser can on a
## log-likelihood rounded to ~1e-14: ~1e-7 in the parameters, the same
## log-likelihood as the root of the REML score equations to 1e-14.
source("../_json.R")
suppressPackageStartupMessages(library(metafor))
d <- dat.kearon1998
d <- d[complete.cases(d[, c("tp", "np", "tn", "nn")]), ]
write_input(d)
sens <- escalc(measure = "PLO", xi = tp, ni = np, data = d)
spec <- escalc(measure = "PLO", xi = tn, ni = nn, data = d)
long <- rbind(data.frame(id = d$id, outcome = "sens", yi = as.numeric(sens$yi), vi = as.numeric(sens$vi)),
              data.frame(id = d$id, outcome = "spec", yi = as.numeric(spec$yi), vi = as.numeric(spec$vi)))
long <- long[order(long$id, long$outcome), ]
b <- rma.mv(yi, vi, mods = ~ outcome - 1, random = ~ outcome | id, struct = "UN", data = long,
            method = "REML", control = list(optimizer = "newuoa", rhoend = 1e-12, maxfun = 100000))
nm <- rownames(b$beta)
expected <- list(
  case = "kearon1998_bivariate_tight",
  description = "Bivariate rma.mv (struct UN, REML) of logit sensitivity and specificity, converged (newuoa, rhoend 1e-12)",
  bivariate_REML_tight = list(
    beta = vec_named(b$beta, nm), se = vec_named(b$se, nm),
    ci.lb = vec_named(b$ci.lb, nm), ci.ub = vec_named(b$ci.ub, nm),
    zval = vec_named(b$zval, nm), pval = vec_named(b$pval, nm),
    vb = b$vb, tau2 = I(b$tau2), rho = b$rho,
    fit.stats_REML = vec_named(b$fit.stats$REML, rownames(b$fit.stats)),
    QE = b$QE, QEp = b$QEp,
    sens_spec = list(sens = plogis(b$beta[1]), sens.lb = plogis(b$ci.lb[1]), sens.ub = plogis(b$ci.ub[1]),
                     spec = plogis(b$beta[2]), spec.lb = plogis(b$ci.lb[2]), spec.ub = plogis(b$ci.ub[2])))
)
write_json(expected)
