"""Evaluation: image metrics, FID (offline InceptionV3) and disentanglement scores on synthetic scenes."""

from .metrics import (band_masks, colour_transfer_gain, default_band_width, edge_agreement, edge_magnitude,
                      frechet_distance, l1, lab_frechet_distance, lab_to_rgb, masked_mean_abs, psnr,
                      region_differences, reinhard_transfer, rgb_to_lab)

__all__ = ["psnr", "l1", "rgb_to_lab", "lab_to_rgb", "frechet_distance", "lab_frechet_distance",
           "reinhard_transfer", "colour_transfer_gain", "edge_magnitude", "edge_agreement",
           "default_band_width", "band_masks", "masked_mean_abs", "region_differences"]
