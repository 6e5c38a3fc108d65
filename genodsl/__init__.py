"""genodsl: a genotype language, compiler and runtime for NAS-Unet."""

__version__ = "0.1.0"
