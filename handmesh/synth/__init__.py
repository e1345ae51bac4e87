"""Synthetic hands in the FreiHAND format, and synthetic videos with per-frame ground truth."""
