"""GAN families by name: each is a recipe of networks and losses (see :class:`GANModel`)."""

from __future__ import annotations

from hepgan.errors import ConfigError, unknown_name_error
from hepgan.models.adversarial import CGAN, CGANMBL, DCGAN, VanillaGAN
from hepgan.models.base import GANModel
from hepgan.models.calo import CaloWGAN
from hepgan.models.layered import LayeredWGAN
from hepgan.models.projection import ProjectionCGAN
from hepgan.models.wgan import WGANGP, ConditionalWGANGP

_FAMILIES: dict[str, type[GANModel]] = {
    cls.family: cls for cls in (VanillaGAN, DCGAN, CGAN, CGANMBL, WGANGP, ConditionalWGANGP, CaloWGAN, ProjectionCGAN,
                                     LayeredWGAN)
}


# Options that only some families read: set on another family, they would be silently ignored.
_FAMILY_OPTIONS: dict[str, tuple[type[GANModel], ...]] = {
    "gp_every": (WGANGP,),
    "mismatch_weight": (VanillaGAN,),  # and its subclasses: dcgan, cgan, cgan_mbl
    "mbl_features": (CGANMBL,),
    "projection": (ProjectionCGAN,),
    "calo": (CaloWGAN,),
    "layered": (LayeredWGAN,),
}


def list_families() -> list[str]:
    return sorted(_FAMILIES)


def register_family(cls: type[GANModel]) -> type[GANModel]:
    """Class decorator making a new family available to configs by its ``family`` name."""
    if not cls.family or cls.family in _FAMILIES:
        raise ConfigError(f"cannot register model family {cls.family!r}: empty or taken")
    _FAMILIES[cls.family] = cls
    return cls


def build_model(config, sample_shape, cond_dim: int, geometry: str | None = None) -> GANModel:
    """The GAN of ``config.family`` for samples of ``sample_shape`` with ``cond_dim`` conditions."""
    if config.family not in _FAMILIES:
        raise ConfigError(unknown_name_error("model family", config.family, list(_FAMILIES)))
    cls = _FAMILIES[config.family]
    for option, readers in _FAMILY_OPTIONS.items():
        if getattr(config, option) != type(config).model_fields[option].default and not issubclass(cls, readers):
            users = sorted(f for f, c in _FAMILIES.items() if issubclass(c, readers))
            raise ConfigError(f"model.{option} is read only by the families {', '.join(users)}; family "
                              f"{config.family!r} would ignore it (remove it, or change model.family)")
    return cls(config, sample_shape, cond_dim, geometry)


__all__ = ["GANModel", "build_model", "list_families", "register_family"]
