"""Aksara migrations."""
