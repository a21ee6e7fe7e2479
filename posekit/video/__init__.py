"""Video: reading frames, writing H.264 MP4, tracking people across frames, smoothing, the frame-by-frame stream."""
