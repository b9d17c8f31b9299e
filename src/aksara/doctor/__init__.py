"""Aksara doctor."""
