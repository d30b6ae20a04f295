"""The DSepConv network in torch: configuration, the deformable separable op, checkpoints,
devices, tiling."""
