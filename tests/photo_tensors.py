"""Small photo-like image batches for the benchmarks' CPU tests."""

import torch


def eight_bit_photos(n: int = 3, size: int = 64) -> torch.Tensor:
    """``[n, 3, size, size]`` in [-1, 1]: smooth colour blobs plus fine texture, quantised to 8 bits as the
    benchmarks read photos (seeded)."""
    torch.manual_seed(0)
    smooth = torch.nn.functional.interpolate(torch.rand(n, 3, 8, 8), size=size, mode="bilinear")
    photos = (smooth + 0.1 * torch.rand(n, 3, size, size)).clamp(0, 1) * 2 - 1
    return torch.round((photos + 1) * 127.5) / 127.5 - 1
