"""Configuration of a GAN family: networks, conditioning tricks and penalties."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from hepgan.strict import StrictModel


def _check_layout(value: str) -> str:
    """Parse a layout (or preset name) now, so a typo fails at config load with the caret message."""
    import difflib

    from hepgan.nn import LayoutError, list_presets, parse_layout, resolve_layout

    if "|" not in value and "," not in value and value not in list_presets():
        close = difflib.get_close_matches(value, list_presets(), n=1)
        if close or "-" in value:
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown preset {value!r}{hint}; presets: {', '.join(list_presets())}")
    try:
        parse_layout(resolve_layout(value))
    except LayoutError as exc:
        raise ValueError(f"\n{exc}") from None
    return value


class SummaryCriticConfig(StrictModel):
    """A second critic that sees physics summaries (total and per-layer energy) of the showers."""

    layout: str = "DENSE|64|LEAKYRELU, DENSE|64|LEAKYRELU, DENSE|1|LINEAR"
    gp_weight: float = Field(0.0, ge=0.0)
    loss_weight: float = Field(1.0, gt=0.0)

    _layout_parses = field_validator("layout")(classmethod(lambda cls, v: _check_layout(v)))


class CaloConfig(StrictModel):
    """Options of the ``calo_wgan`` family's hierarchical shower features (see hepgan.models.calo)."""

    degree: int = Field(3, ge=0, le=6, description="polynomial degree of the condition-dependent standardisation "
                                                    "(0: one mean and width for all conditions)")
    knots: int = Field(0, ge=0, description="the standardisation also has a linear spline with this many knots in "
                                          "each condition with >= 100 distinct values in the data (the impact "
                                          "position: which strip holds the core is a step function of it); 0: none")
    eps_layer: float = Field(1e-5, gt=0.0, description="floor inside ln(layer fraction + eps)")
    eps_cell: Annotated[float, Field(ge=1e-7, le=0.1)] | Literal["adaptive"] = Field(
        1e-5, description="floor inside ln(cell fraction of its layer + eps); 'adaptive': per layer, the smallest "
                          "deposit's share in the data (a function of the conditions) / eps_cell_ratio")
    eps_cell_ratio: float = Field(16.0, gt=1.0, description="adaptive eps_cell: smallest share / eps")
    empty_below: float = Field(3.0, gt=1.0, description="generated cells below this many eps (in exp of the "
                                                        "feature) are empty: as sparse as the data")
    head_init_scale: float = Field(0.1, gt=0.0, description="scale of the generator's initial output weights")
    shape_summaries: bool = Field(False, description="the critics also see each layer's standardised energy "
                                                     "fraction, centroids, widths, hottest-cell share and soft "
                                                     "occupancy (the summary critic with the response and layer split)")
    linear_shares: bool = Field(False, description="the main critic also sees each cell's linear share of its layer, "
                                                   "standardised: R_eta, R_phi and widths are sums of shares, "
                                                   "which a critic on ln-shares must first exponentiate")
    moment_weight: float = Field(0.0, ge=0.0, description="weight of a generator penalty pulling each standardised "
                                                        "summary's batch mean to 0 and width to 1 (their value in "
                                                        "the data at every condition)")
    moment_groups: int = Field(1, ge=1, description="the moment penalty holds mean 0 and width 1 within this many "
                                                     "groups of the batch, sorted by the first condition (the "
                                                     "energy): pooled over all energies (1), a width too narrow "
                                                     "at some energies and too wide at others goes unseen")
    calibrate_response: bool = Field(False, description="after training, fit a monotone per-energy map of each "
                                                         "generated shower's E_tot / E onto the training data's "
                                                         "distribution, applied as one scale per shower (the weight "
                                                         "average narrows the response; the core and low tail at "
                                                         "high energy come out wrong)")
    calibrate_layers: bool = Field(False, description="after training, fit a monotone per-energy map of each "
                                                       "generated layer fraction E_layer / E_tot onto the training "
                                                       "data's distribution, applied as one scale per layer and "
                                                       "shower (the generated shower-to-shower spread of the "
                                                       "fractions comes out too small)")
    eratio_moments: bool = Field(False, description="the moment penalty also holds the strip layer's standardised "
                                                     "E_ratio at mean 0 and width 1 (needs moment_weight > 0)")
    cell_noise: float = Field(0.0, ge=0.0, description="initial scale of per-cell noise with a learned scale, added "
                                                     "to the generated cell features (the latent grows by the "
                                                     "cell count); 0: none")
    cell_fluctuations: float = Field(0.0, ge=0.0, description="initial scale of independent cell fluctuations with "
                                                           "a variance of (cell energy) x (the layer's energy quantum, "
                                                           "from the data's smallest deposits) x this, learned per "
                                                           "layer (the latent grows by the cell count); 0: none")
    fluctuation_shape: Literal["gaussian", "gamma"] = Field(
        "gaussian", description="the cell fluctuations' distribution at the same mean and width: a Gaussian cut "
                                "at 0, or a Gamma (by the Wilson-Hilferty cube of the Gaussian latent), skewed "
                                "up as a count of a few deposits is")
    fluctuation_power: bool = Field(False, description="with cell_fluctuations, learn per layer an exponent b in "
                                                       "the fluctuations' width sqrt(cell x quantum) x (cell / "
                                                       "quantum)^b (initially 0): b < 0 lets a shower's small tail "
                                                       "cells fluctuate relatively more than its core")
    fluctuation_layers: list[str] | None = Field(None, description="the layers whose cells fluctuate with "
                                                                  "cell_fluctuations (None: all)")
    cell_floor: float = Field(0.0, ge=0.0, description="with cell_fluctuations, the fluctuating cells holding less "
                                                       "than this x their layer's typical smallest deposit are "
                                                       "emptied (a layer's largest cell stays); 0: no floor")
    deposit_layers: list[str] = Field([], description="with cell_fluctuations, the layers whose cells holding less "
                                                      "than one deposit (deposit_size x the layer's typical smallest "
                                                      "deposit) hold one deposit with probability (their energy / "
                                                      "deposit) and are empty otherwise: hits by whole deposits, as "
                                                      "in a real shower, with the mean profile kept (the latent "
                                                      "grows by their cell count)")
    deposit_smooth: bool = Field(True, description="the head keeps every cell of the deposit_layers however small "
                                                   "(no empty_below threshold), so the network makes a smooth "
                                                   "profile and whole-deposit sampling alone makes it sparse "
                                                   "(false: the head's threshold first; docs/flagship.md)")
    deposit_spread: float = Field(0.0, ge=0.0, description="a whole deposit's energy is log-uniform within "
                                                           "exp(+-this) of its mean, or from one deposit up to "
                                                           "exp(this) deposits (deposit_shape); the initial value, "
                                                           "learned per layer; 0: every deposit the same")
    deposit_shape: Literal["around", "above"] = Field(
        "around", description="where deposit_spread lies: 'around' a whole deposit's mean, or 'above' one deposit "
                              "(log-uniform from one deposit up to exp(deposit_spread) deposits, so never a sliver "
                              "of one however the spread grows)")
    deposit_size: float = Field(1.0, gt=0.0, description="deposit_layers' deposit, in units of the layer's fitted "
                                                         "typical smallest deposit")
    gaussian_path: Literal["none", "summaries", "all"] = Field(
        "summaries", description="a linear noise-to-output path for these features, initialised to the data's "
                                 "covariance (the latent grows by their count)")

    @field_validator("knots")
    @classmethod
    def _knots_span(cls, value):
        if value == 1:
            raise ValueError("knots must be 0 (no spline) or >= 2 (a spline needs two knots to span a range)")
        return value

    @field_validator("gaussian_path", mode="before")
    @classmethod
    def _from_bool(cls, value):
        """Runs written while this option was a switch (true: all features) still load."""
        return {True: "all", False: "none"}.get(value, value) if isinstance(value, bool) else value


class LayeredConfig(StrictModel):
    """Sizes of the ``layered_wgan`` family's networks (see hepgan.models.layered)."""

    width: int = Field(256, ge=8, description="units of every hidden layer")
    depth: int = Field(3, ge=1, le=8, description="hidden layers of each network")
    shape_latent: int = Field(8, ge=1, description="noise per layer for the shape network (model.latent_dim is the "
                                                   "noise shared by the whole shower)")
    embedding: int = Field(16, ge=1, description="size of the learned vector that tells the shared networks "
                                                 "which layer they are looking at")
    layer_features: int = Field(16, ge=1, description="features the per-layer critic passes to the whole-shower critic "
                                                      "for each layer")
    cell_noise: bool = Field(False, description="each cell's logit also moves by a spread the shape network "
                                                 "learns times the cell's own latent value (the latent gains one "
                                                 "value per cell slot)")


class ProjectionConfig(StrictModel):
    """Options of the ``cgan_proj`` family (projection discriminator, optional auxiliary classifier)."""

    loss: Literal["hinge", "bce"] = Field("hinge", description="adversarial loss on the critic's logits")
    aux_weight: float = Field(0.0, ge=0.0, description="weight of the auxiliary classifier's cross-entropy "
                                                       "(AC-GAN); 0: projection only")
    spectral_norm: bool = Field(False, description="spectral normalisation (Miyato et al. 2018) of every weight "
                                                   "in the critic: bounds its Lipschitz constant without a penalty")


class ModelConfig(StrictModel):
    family: str = "cwgan_gp"
    generator: str = "calo-g"
    critic: str = "calo-d"
    latent_dim: int = Field(64, ge=1)
    gp_weight: float = Field(10.0, ge=0.0)
    gp_every: int = Field(1, ge=1, description="apply the gradient penalties on every k-th critic update only, "
                                               "k times as strong (lazy regularisation): their double backward "
                                               "costs about as much as the rest of an update")
    summary_critic: SummaryCriticConfig | None = None
    calo: CaloConfig = CaloConfig()
    layered: LayeredConfig = LayeredConfig()
    projection: ProjectionConfig = ProjectionConfig()
    label_smoothing: float = Field(0.0, ge=0.0, lt=0.5, description="one-sided: real label 1 - value")
    instance_noise: float = Field(0.0, ge=0.0, description="std of Gaussian noise added to critic inputs")
    noise_injection: float = Field(0.0, ge=0.0, description="std of noise added to generator inputs (layers)")
    init: Literal["default", "glorot"] = "default"
    mbl_features: int = Field(20, ge=2, description="CGAN-MBL: PCA features for Mahalanobis label assignment")
    mismatch_weight: float = Field(0.0, ge=0.0, description="gan/cgan families with labels: real images under a "
                                   "wrong label also count as fakes (matching-aware critic), with this weight")

    _layouts_parse = field_validator("generator", "critic")(classmethod(lambda cls, v: _check_layout(v)))
