"""Errors caused by what a user passed in (files, images, masks, options)."""

# What to do about an image over the size limit, worded for both the Python API and the command line.
SIZE_ADVICE = "Resize it, or raise the limit (`max_side=` in Python, `--max_side` on the command line)"


class InputError(ValueError):
    """The input cannot be used; the message says what was wrong and what to do instead."""


class ImageTooLarge(InputError):
    """An image (or a mask file) whose longest side is over the limit; raised before it is decoded.

    Attributes ``what`` (how the message names the input), ``width``, ``height`` and ``limit`` let a
    front end word its own advice (the app tells a visitor to resize and upload again).
    """

    def __init__(self, what: str, width: int, height: int, limit: int, advice: str = SIZE_ADVICE):
        self.what, self.width, self.height, self.limit = what, width, height, limit
        super().__init__(f"{what} is {width}x{height}; the longest side may be at most {limit} px. {advice}")
