"""Cleaning: repairs, filters (empty turns, preference pairs, PII, boilerplate, quality, length), exact
and near deduplication, and the leak-free train/validation split. Every step is optional, counted
and explained with examples in the report; large data streams through in Arrow batches."""

from tuneui.cleaning.pipeline import MemoryClean, clean
from tuneui.cleaning.split import SplitResult, train_val_split
from tuneui.contract.cleaning import CleanOptions

CleanResult = MemoryClean  # the in-memory result (the wizard's is tuneui.contract.cleaning.CleanResult)

__all__ = ["CleanOptions", "CleanResult", "MemoryClean", "SplitResult", "clean", "train_val_split"]
