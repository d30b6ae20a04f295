"""Exporting interpolated clips: the timing plan and the streaming export."""
