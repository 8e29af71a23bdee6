## Case: rma.glmm(measure = "PLO") of dat.pritz1997 (random-effects logistic model,
## lme4::glmer, nAGQ = 7) at a converged optimum.
## lme4's default optimisers (bobyqa, then Nelder_Mead with FtolAbs = 1e-5) stop with
## the log-likelihood 1.5e-10 below its maximum (tau2 off by ~1e-5; the shared suite's
## pritz1997_prop holds those default values).  bobyqa with rhoend = 1e-12 converges.
source("../_json.R")
suppressPackageStartupMessages(library(metafor))
d <- dat.pritz1997
write_input(d)
g <- rma.glmm(measure = "PLO", xi = xi, ni = ni, data = d,
              control = list(glmerCtrl = list(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 100000))))
p <- predict(g, transf = transf.ilogit)
expected <- list(
  case = "pritz1997_glmm_tight",
  description = "rma.glmm(measure = 'PLO'), lme4 nAGQ = 7, converged (bobyqa, rhoend 1e-12)",
  GLMM_PLO_tight = list(
    beta = as.numeric(g$beta), se = as.numeric(g$se), zval = as.numeric(g$zval), pval = as.numeric(g$pval),
    ci.lb = as.numeric(g$ci.lb), ci.ub = as.numeric(g$ci.ub), tau2 = g$tau2, I2 = g$I2, H2 = g$H2,
    QE.Wld = g$QE.Wld, QEp.Wld = g$QEp.Wld, QE.LRT = g$QE.LRT, QEp.LRT = g$QEp.LRT,
    predict_ilogit = list(pred = as.numeric(p$pred), ci.lb = as.numeric(p$ci.lb), ci.ub = as.numeric(p$ci.ub),
                          pi.lb = as.numeric(p$pi.lb), pi.ub = as.numeric(p$pi.ub)))
)
write_json(expected)
