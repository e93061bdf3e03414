"""The Octopus model runtime (no ROS): profiles, base weights, model, constrained decoding, checkpoints."""
from .agent import InferenceResult, OctopusAgent, detect_language
from .errors import ModelLoadError
from .profile import ModelProfile, load_profile

__all__ = ["InferenceResult", "ModelLoadError", "ModelProfile", "OctopusAgent", "detect_language", "load_profile"]
