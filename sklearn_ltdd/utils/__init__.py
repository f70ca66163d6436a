"""Input validation, device selection, random-number helpers and the speed options."""

from ._acceleration import SpeedOptionsMixin
from ._device import resolve_device
from ._random import torch_generator, torch_seed
from ._validation import (
    check_image_array,
    check_images_labels,
    check_input_shape,
    images_from_uint8,
)

__all__ = [
    "SpeedOptionsMixin",
    "check_image_array",
    "check_images_labels",
    "check_input_shape",
    "images_from_uint8",
    "resolve_device",
    "torch_generator",
    "torch_seed",
]
