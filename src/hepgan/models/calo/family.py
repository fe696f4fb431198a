"""The flagship calorimeter GAN: a conditional WGAN-GP that builds a shower the way its physics is
structured, so the networks only have to learn what the structure does not already say.

A shower of energy-normalised cells x (E_cell / E_inc) is described hierarchically by

* ln r,           r = sum(x), the response (E_tot / E_inc);
* ln(f_l + eps),  f_l = E_layer / E_tot, how the energy splits between the layers;
* ln(g_c + eps),  g_c = E_cell / E_layer(c), the shape within each layer;

and every one of these features is standardised by a mean and a width that are *functions of
the conditions* (a low-order polynomial in the encoded ln E, impact position, alignment code and
impact offset, fitted by ridge least squares on the training data). In that space the textbook
difficulty of the ATLAS FastCaloGAN study's WGAN-GP (a 1-10 % resolution at energies three decades apart)
disappears: the response of every energy, including one left out of training, is near N(0, 1),
and the network learns the deviations and correlations. The generator's head inverts the map:
exp for the response, a softmax over the layers, and within each layer a softmax whose shares
below a few eps are exactly 0, so generated showers are non-negative, add up by construction and
are as sparse as the data (in layers of a few big hits, whole-deposit sampling does that instead;
see :class:`CellFluctuations`). The cell floor eps can follow the data's smallest deposit (``adaptive``),
which falls by decades with the energy. The critics see the standardised features; a second
critic sees only the response and layer features (the ATLAS FastCaloGAN study's summary critic); with
``shape_summaries`` both also see each layer's linear fraction, centroids, widths, hottest share
and occupancy. docs/flagship.md has the ablation.
"""

from __future__ import annotations

import functools
import math

import torch
from scipy import special
from torch import nn

from hepgan.errors import ConfigError
from hepgan.geometry import get_geometry
from hepgan.models.calo.features import ShowerFeatures
from hepgan.models.calo.fluctuations import CellFluctuations
from hepgan.models.calo.generator import StructuredGenerator
from hepgan.models.calo.layer_calibration import LayerCalibration
from hepgan.models.calo.quantile_map import QuantileMaps
from hepgan.models.calo.response_calibration import ResponseCalibration
from hepgan.models.calo.summaries import LinearShares, ShapeSummaries, StripEratio
from hepgan.models.wgan import WGANGP


class CaloWGAN(WGANGP):
    """Conditional WGAN-GP on hierarchical, condition-standardised shower features (the losses are
    WGAN-GP's; only what the critics see differs)."""

    family = "calo_wgan"
    needs_conditions = True

    def __init__(self, config, sample_shape, cond_dim, geometry=None):
        nn.Module.__init__(self)  # its networks are built here, not by the layout-only base classes
        if geometry is None:
            raise ConfigError("model family 'calo_wgan' needs shower data on a known geometry")
        g = get_geometry(geometry)
        if tuple(sample_shape) != (g.n_cells,):
            raise ConfigError(f"model family 'calo_wgan' needs samples of {g.n_cells} cells "
                              f"(geometry {geometry!r}), got shape {tuple(sample_shape)}")
        if cond_dim == 0:
            raise ConfigError("model family 'calo_wgan' is conditional: give the data conditions")
        self.config = config
        self.sample_shape = tuple(sample_shape)
        self.cond_dim = cond_dim
        self.geometry = geometry
        opts = config.calo
        features = ShowerFeatures(geometry, cond_dim, opts.degree, opts.eps_layer, opts.eps_cell, opts.empty_below,
                                  opts.eps_cell_ratio, opts.knots, opts.deposit_layers if opts.deposit_smooth else ())
        gaussian_dim = {"none": 0, "summaries": features.n_summary, "all": features.dim}[opts.gaussian_path]
        body_latent = config.latent_dim + gaussian_dim
        body = self._build(config.generator, (body_latent,), (features.dim,), "generator")
        self._scale_last_layer(body, opts.head_init_scale)
        if opts.cell_floor > 0 and opts.cell_fluctuations <= 0:
            raise ConfigError("calo.cell_floor is a fraction of the fluctuations' fitted smallest deposit: "
                              "set calo.cell_fluctuations > 0")
        if opts.deposit_layers and opts.cell_fluctuations <= 0:
            raise ConfigError("calo.deposit_layers' deposit is the fluctuations' fitted smallest deposit: "
                              "set calo.cell_fluctuations > 0")
        fluctuations = (CellFluctuations(geometry, cond_dim, opts.degree, opts.cell_fluctuations,
                                         opts.fluctuation_layers, opts.cell_floor, opts.deposit_layers,
                                         opts.deposit_size, opts.deposit_spread, opts.deposit_shape,
                                         opts.fluctuation_power, opts.fluctuation_shape)
                        if opts.cell_fluctuations > 0 else None)
        # (only when asked for: other configs keep their state dicts as before)
        calibration = ResponseCalibration() if opts.calibrate_response else None
        layer_calibration = (LayerCalibration([layer.n_cells for layer in g.layers])
                             if opts.calibrate_layers else None)
        self.generator = StructuredGenerator(body, features, gaussian_dim, opts.cell_noise, fluctuations, calibration,
                                             layer_calibration)
        self.latent_dim = body_latent + self.generator.noise_dim
        self.shapes = ShapeSummaries(geometry, cond_dim, opts.degree, opts.knots) if opts.shape_summaries else None
        n_shapes = self.shapes.dim if self.shapes is not None else 0
        self.linear_shares = LinearShares(geometry, cond_dim, opts.degree, opts.knots) if opts.linear_shares else None
        if opts.eratio_moments and opts.moment_weight <= 0:
            raise ConfigError("calo.eratio_moments adds E_ratio to the moment penalty: set calo.moment_weight > 0")
        self.eratio = StripEratio(geometry, cond_dim, opts.degree, opts.knots) if opts.eratio_moments else None
        n_linear = self.linear_shares.dim if self.linear_shares is not None else 0
        self.critics = nn.ModuleDict({"critic": self._build(config.critic, (features.dim + n_shapes + n_linear,), (1,),
                                                            "critic")})
        if config.summary_critic is not None:
            self.critics["summary"] = self._build(config.summary_critic.layout, (features.n_summary + n_shapes,), (1,),
                                                  "summary_critic")
        if config.noise_injection > 0:
            self._add_noise_injection(config.noise_injection)

    @staticmethod
    def _scale_last_layer(body: nn.Module, scale: float) -> None:
        """Start near the conditional mean shower: small output weights, zero bias."""
        last = [m for m in body.modules() if isinstance(m, nn.Linear)][-1]
        with torch.no_grad():
            last.weight.mul_(scale)
            if last.bias is not None:
                last.bias.zero_()

    @property
    def features(self) -> ShowerFeatures:
        return self.generator.features

    def fit_data(self, x, cond, energies_mev=None):
        cond_np = cond.numpy() if cond is not None else None
        self.features.fit(x.numpy(), cond_np)
        if self.generator.fluctuations is not None:
            self.generator.fluctuations.fit(x.numpy(), cond_np)
        if self.shapes is not None:
            self.shapes.fit(x.numpy(), cond_np, self.features.empty_threshold(cond, len(x)))
        if self.linear_shares is not None:
            self.linear_shares.fit(x.numpy(), cond_np)
        if self.eratio is not None:
            self.eratio.fit(x.numpy(), cond_np)
        self.generator.fit_gaussian(x, cond)

    def clean_view(self, x, cond):
        """The critics compare showers in the standardised feature space (and, with
        calo.shape_summaries, the standardised layer shapes after it)."""
        return self._standardised(x, cond)

    @torch.no_grad()
    def fixed_real_views(self, x, cond):
        """The standardised features of the training showers: the standardisation is fitted before
        training and fixed during it (5 % of a quickstart step went to computing them per batch)."""
        return torch.cat([self.clean_view(part, c) for part, c in zip(x.split(10_000), cond.split(10_000))])

    @torch.no_grad()
    def calibrate(self, generator: StructuredGenerator, x: torch.Tensor, cond: torch.Tensor,
                  seed: int = 0) -> dict[str, dict]:
        """Fit ``generator``'s calibrations (calo.calibrate_layers, then calo.calibrate_response;
        this model's generator or a copy with other weights, such as the weight average) to the
        training showers ``x``. Returns {"layers" / "response": what each fit returned}, empty
        when it has none."""
        noise = torch.Generator().manual_seed(seed)

        def generate(c: torch.Tensor) -> torch.Tensor:
            return torch.cat([generator(torch.randn(len(part), self.latent_dim, generator=noise), part)
                              for part in c.split(10_000)])

        fitted = {}
        if generator.layer_calibration is not None:  # first: the response map leaves fractions alone
            fitted["layers"] = generator.layer_calibration.fit(generate, x, cond, seed=seed)
        if generator.calibration is not None:
            fitted["response"] = generator.calibration.fit(generate, x, cond, seed=seed)
        return fitted

    def has_calibration(self) -> bool:
        """Whether the generator carries calibrations fitted after training (calo.calibrate_layers,
        calo.calibrate_response)."""
        return bool(_calibrations(self.generator))

    def reset_calibration(self, generator: nn.Module) -> None:
        """Put ``generator``'s calibrations (this model's generator or a copy with other weights) back
        to the identity."""
        for calibration in _calibrations(generator):
            calibration.reset()

    def _standardised(self, x, cond):
        """[features, shape summaries, linear shares], the last two when configured."""
        parts = [self.features(x, cond)]
        if self.shapes is not None:
            parts.append(self.shapes(x, cond, self.features.empty_threshold(cond, x.shape[0])))
        if self.linear_shares is not None:
            parts.append(self.linear_shares(x, cond))
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]

    def generator_loss(self, cond, n):
        """WGAN-GP's, plus (with calo.moment_weight) a pull of the batch's standardised summaries
        towards mean 0 and width 1: that is their distribution in the data at *every* condition,
        by construction of the standardisation, so the term needs no conditional statistics. It
        counters the critics' slow grip on the spread: without it the generated resolution came
        out 4-13 % too narrow at 2-131 GeV (3 seeds of the quickstart). With calo.moment_groups the
        pull acts within groups of similar energy (see :func:`summary_moments`); with
        calo.eratio_moments it also holds the strip layer's E_ratio."""
        x = self.generate(self.sample_latent(n), cond)
        view = self._standardised(x, cond)
        loss, logs = self.adversarial_generator_loss(self.critic_input(view), cond)
        weight = self.config.calo.moment_weight
        if weight > 0:
            z = view[:, : self.features.n_summary]  # the features once, without instance noise
            if self.eratio is not None:
                z = torch.cat([z, self.eratio(x, cond)], dim=1)
            moment = summary_moments(z, cond, self.config.calo.moment_groups)
            loss = loss + weight * moment
            logs = {**logs, "moment": float(moment.detach()), "loss_g": float(loss.detach())}
        return loss, logs

    def summary_view(self, view):
        """The summary critic sees the response and layer features (and the layer shapes)."""
        summaries = view[:, : self.features.n_summary]
        if self.shapes is None:
            return summaries
        start = self.features.dim
        return torch.cat([summaries, view[:, start : start + self.shapes.dim]], dim=1)


def summary_moments(z: torch.Tensor, cond: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """Mean over summaries and groups of (mean z)^2 - var z / n + (ln std z - bias)^2, the batch
    split into ``groups`` runs of similar first condition (the energy).

    Standardised summaries are N(0, 1) at every condition, so every such group must have mean 0
    and width 1; pooled over the whole batch (one group), a width too narrow at some energies and
    too wide at others cancels out. Small groups need two corrections, or the penalty's minimum
    moves off the true width (averaged over many batches): (mean z)^2 alone has expectation
    mu^2 + sigma^2 / n and so rewards a narrower width (-3 % for n = 32), hence the - var / n;
    and ln std is biased low (E ln s = ``bias``, -1.6 % for n = 32)."""
    order = torch.argsort(cond[:, 0])
    terms = []
    for part in torch.tensor_split(z[order], max(1, min(groups, len(z) // 2))):
        n = part.shape[0]
        var = part.var(dim=0)
        terms.append(part.mean(dim=0).square() - var / n + (0.5 * var.log() - _log_std_bias(n)).square())
    return torch.stack(terms).mean()


@functools.lru_cache(maxsize=64)
def _log_std_bias(n: int) -> float:
    """E[ln s] for the sample standard deviation s of n draws from a unit Gaussian."""
    return 0.5 * (float(special.digamma((n - 1) / 2)) + math.log(2 / (n - 1)))


def _calibrations(generator: nn.Module) -> list[QuantileMaps]:
    """The calibrations fitted after training that ``generator`` carries."""
    return [m for m in generator.modules() if isinstance(m, QuantileMaps)]
