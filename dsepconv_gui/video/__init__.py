"""Video files: the only package that imports PyAV (decoding, encoding, audio, streaming)."""
