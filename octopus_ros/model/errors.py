"""Errors the model layer raises, with messages meant for the person running the node."""


class ModelLoadError(RuntimeError):
    """A model, checkpoint or base weight file could not be loaded (missing, corrupt, incompatible)."""
