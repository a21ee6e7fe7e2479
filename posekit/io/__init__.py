"""Files in and out: image headers and decoding, atomic writes, input collections, exports and tables."""
