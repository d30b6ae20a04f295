"""Training DSepConv: triplet data, losses and the resumable training loop (no Qt)."""
