"""Classical optical flow (OpenCV DIS, a patch search, projection to the middle): the
network's prior."""
