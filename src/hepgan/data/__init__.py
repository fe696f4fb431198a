"""Shower and image data: containers, readers and writers, preprocessing transforms."""

from hepgan.data.showers import ImageData, ShowerData, check_finite

__all__ = ["ImageData", "ShowerData", "check_finite"]
