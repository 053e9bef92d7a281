"""Errors caused by what a user passed in (files, images, masks, options)."""


class InputError(ValueError):
    """The input cannot be used; the message says what was wrong and what to do instead."""
