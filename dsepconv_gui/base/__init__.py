"""The foundation every layer uses: errors, bounded JSON, path checks, safe writes, progress
text."""
