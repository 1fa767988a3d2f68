"""Cleaning: repairs, filters (empty turns, PII, boilerplate, quality, length), exact and near
deduplication, and the leak-free train/validation split. Every step is optional, counted and
explained with examples in the report."""

from tuneui.cleaning.pipeline import CleanResult, clean
from tuneui.cleaning.split import SplitResult, train_val_split
from tuneui.contract.cleaning import CleanOptions

__all__ = ["CleanOptions", "CleanResult", "SplitResult", "clean", "train_val_split"]
