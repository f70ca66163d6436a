"""Input validation, device selection and random-number helpers."""

from ._device import resolve_device
from ._random import torch_generator, torch_seed
from ._validation import (
    check_image_array,
    check_images_labels,
    check_input_shape,
    images_from_uint8,
)

__all__ = [
    "check_image_array",
    "check_images_labels",
    "check_input_shape",
    "images_from_uint8",
    "resolve_device",
    "torch_generator",
    "torch_seed",
]
