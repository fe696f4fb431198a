"""hepgan: train, validate and ship GANs for fast calorimeter simulation and image benchmarks."""

__version__ = "0.1.0"
