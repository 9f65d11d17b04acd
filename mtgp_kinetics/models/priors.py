"""Default priors of the multi-task GP, in one place so they can be read and cited.

All priors act on the model's working scale: inputs normalized to [0, 1] after the condition
transforms (so a temperature lengthscale is a fraction of the 1000/T range) and outputs standardized
per task (zero mean, unit variance of the transformed values).

=====================  ============================================  ==================================
hyperparameter         prior                                         why
=====================  ============================================  ==================================
continuous             LogNormal(sqrt(2) + ln(d)/2, sqrt(3)),        dimension-scaled prior of
lengthscale (ARD)      lower bound 0.025                             Hvarfner et al. (2024), botorch's
                                                                     default; median 4.1 / 5.8 / 7.1 /
                                                                     8.2 at d = 1 / 2 / 3 / 4:
                                                                     smooth, near-Arrhenius trends
                                                                     are favoured over wiggles
continuous             LogNormal(1, 1.5), lower bound 0.025          median 2.7, 95 % in 0.14-51:
lengthscale, NUTS                                                    less of the integral spent on
(``method="nuts"``)                                                  functions flat over the range
categorical            LogNormal(0, 1)                               between-level correlation
lengthscale                                                          exp(-1/l) centred near 0.37
task covariance B      LKJ(eta = 2) on the correlation of B,         eta = 2 mildly shrinks task
(ICM / LMC)            LogNormal(ln(1/sqrt(Q)), 1) on each task's    correlations towards 0; the
                       std sqrt(B_tt)                                Q latent processes share unit
                                                                     variance of standardized outputs
single-task            LogNormal(0, 2) on the variance               unit-variance standardized data
outputscale
(independent)
noise variance         LogNormal(-4, 1), lower bound 1e-6            botorch's default (Hvarfner
(learned per task)                                                   et al. 2024): median std 0.14
excess over known      LogNormal(-7, 2), lower bound 1e-6            median std 0.03, 95 % in
noise (``excess_noise``)                                             0.004-0.22: the stated
                                                                     uncertainties hold unless the
                                                                     data disagree
noise variance, NUTS   LogNormal(-6, 2), lower bound 1e-6            median std 0.05, 95 % in
(``method="nuts"``)                                                  0.007-0.35: precise rate data
                                                                     (10 % on a delay spanning
                                                                     decades is std ~0.03) lie in
                                                                     the bulk, not the tail
mean constant          Normal(0, 1)                                  standardized outputs have mean
(per task)                                                           0; keeps it identified against
                                                                     the signal variance (NUTS)
mean slopes            Normal(0, 1)                                  a trend of at most a few
(``mean="linear"``)                                                  standard deviations over the
                                                                     normalized range
=====================  ============================================  ==================================

References
----------
Hvarfner, C., Hellsten, E. O., Nardi, L. (2024). Vanilla Bayesian optimization performs great in high
dimensions. ICML.
Lewandowski, D., Kurowicka, D., Joe, H. (2009). Generating random correlation matrices based on vines
and extended onion method. J. Multivariate Anal. 100, 1989-2001 (the LKJ density).
"""

from __future__ import annotations

import math

import torch
from gpytorch.priors import LogNormalPrior, Prior
from torch.distributions import constraints

SQRT2 = math.sqrt(2.0)
SQRT3 = math.sqrt(3.0)
MIN_LENGTHSCALE = 0.025
MIN_NOISE_VARIANCE = 1e-6


def continuous_lengthscale_prior(num_dims: int) -> LogNormalPrior:
    """Dimension-scaled LogNormal prior on ARD lengthscales (Hvarfner et al. 2024)."""
    return LogNormalPrior(loc=SQRT2 + 0.5 * math.log(max(num_dims, 1)), scale=SQRT3, validate_args=False)


def sampling_lengthscale_prior() -> LogNormalPrior:
    """LogNormal(1, 1.5) prior on continuous ARD lengthscales when NUTS integrates over them.

    Median 2.7 of the normalized range, 95 % between 0.14 and 51. MAP's prior (LogNormal(1.96,
    1.73) at d = 3) has its mode at 0.35 but its mass far out (median 7.1, 27 % beyond 20, where
    every function is flat over the range); a point estimate sits near the mode, an average over
    draws spends a quarter of them on near-linear fits.
    """
    return LogNormalPrior(loc=1.0, scale=1.5, validate_args=False)


def categorical_lengthscale_prior() -> LogNormalPrior:
    """LogNormal(0, 1) prior on categorical-kernel lengthscales."""
    return LogNormalPrior(loc=0.0, scale=1.0, validate_args=False)


def outputscale_prior() -> LogNormalPrior:
    """LogNormal(0, 2) prior on a single task's signal variance (standardized outputs)."""
    return LogNormalPrior(loc=0.0, scale=2.0, validate_args=False)


def noise_prior() -> LogNormalPrior:
    """LogNormal(-4, 1) prior on a learned noise variance (standardized outputs)."""
    return LogNormalPrior(loc=-4.0, scale=1.0, validate_args=False)


def sampling_noise_prior() -> LogNormalPrior:
    """LogNormal(-6, 2) prior on a learned noise variance when NUTS integrates over it.

    Broader than :func:`noise_prior` and centred lower (median noise std 0.05 of the output's
    spread, 95 % between 0.007 and 0.35): MAP needs its narrower prior to keep the mode away from a
    noise-free interpolation of a sparse task; an average over draws does not, and the MAP prior's
    mass (median std 0.14, 2.5 % below 0.05) excludes the precision of good rate measurements.
    """
    return LogNormalPrior(loc=-6.0, scale=2.0, validate_args=False)


def excess_noise_prior() -> LogNormalPrior:
    """LogNormal(-7, 2) prior on the learned excess over known noise variances (``excess_noise``).

    Median std 0.03 of the output's spread, 95 % between 0.004 and 0.22: an excess is allowed but
    the stated uncertainties are believed unless the data disagree with them.
    """
    return LogNormalPrior(loc=-7.0, scale=2.0, validate_args=False)


class TaskCovariancePrior(Prior):
    """LKJ prior on the correlation of a task covariance and a LogNormal prior on its task stds.

    ``log p(B) = (eta - 1) log det C + sum_t log LogNormal(sigma_t; loc, scale)`` with
    ``sigma = sqrt(diag B)`` and ``C = B / (sigma sigma^T)``, up to a constant. With one task only the
    std term remains.

    Parameters
    ----------
    num_tasks : int
        ``t``, the size of ``B``.
    eta : float
        LKJ concentration; 1 is uniform over correlations, > 1 shrinks them towards 0.
    sd_loc, sd_scale : float
        Location and scale of the LogNormal prior on each task std.
    """

    arg_constraints = {}  # noqa: RUF012 (torch.distributions API)
    support = constraints.positive_definite

    def __init__(self, num_tasks: int, eta: float = 2.0, sd_loc: float = 0.0, sd_scale: float = 1.0):
        super().__init__(validate_args=False)
        self.num_tasks = num_tasks
        self.eta = float(eta)
        self.sd_prior = LogNormalPrior(loc=sd_loc, scale=sd_scale, validate_args=False)

    def log_prob(self, B: torch.Tensor) -> torch.Tensor:
        """Log density of ``... x t x t`` covariances; returns shape ``...``."""
        sd = torch.diagonal(B, dim1=-2, dim2=-1).clamp_min(1e-30).sqrt()
        log_p = self.sd_prior.log_prob(sd).sum(-1)
        if self.num_tasks > 1 and self.eta != 1.0:
            corr = B / (sd.unsqueeze(-1) * sd.unsqueeze(-2))
            log_p = log_p + (self.eta - 1.0) * torch.logdet(corr)
        return log_p
