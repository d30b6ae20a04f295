"""Single frames as RGB uint8 arrays: reading and writing images, orientation, metrics,
visualisation."""
