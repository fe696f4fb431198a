"""Shared by the calo family's tests and the tests that train or export it: a tiny calo_wgan model config."""

CALO_MODEL = {
    "family": "calo_wgan",
    "generator": "CONCAT, DENSE|32|SWISH, DENSE|271|LINEAR",
    "critic": "CONCAT, DENSE|32|LEAKYRELU, DENSE|1|LINEAR",
    "summary_critic": {"layout": "CONCAT, DENSE|16|LEAKYRELU, DENSE|1|LINEAR", "gp_weight": 1.0},
    "latent_dim": 8,
}
