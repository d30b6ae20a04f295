"""Interpolating numpy frames with a model or a classical method, bisection, and the analyses
the app shows."""
