"""The LLM strategy optimizer (SPEC §16): training data, Ollama prompts, generated strategy modules."""
from .api import Optimizer
from .data import OptimizerEntry, OptimizerProgress

__all__ = ["Optimizer", "OptimizerEntry", "OptimizerProgress"]
