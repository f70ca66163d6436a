"""Samplers that complement the distillers."""

from ._samplers import ImageSampler, PrecomputedSampler

__all__ = ["ImageSampler", "PrecomputedSampler"]
