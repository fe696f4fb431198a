"""Shower and image data: containers, readers and writers, preprocessing transforms."""

from hepgan.data.hdf5 import ShowerFile, ShowerWriter, read_showers, write_showers
from hepgan.data.io import load_showers, save_showers
from hepgan.data.showers import ImageData, ShowerData

__all__ = [
    "ImageData", "ShowerData", "ShowerFile", "ShowerWriter", "load_showers", "read_showers", "save_showers",
    "write_showers",
]
