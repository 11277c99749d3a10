"""Keypoint extraction on aligned frames (`musclekit keypoints`).

Backends (MediaPipe offline default, VIBE when the user has it, or an imported VIBE
output) produce per-frame 2D pixel keypoints, root-relative 3D keypoints and confidences;
everything is mapped onto the OpenPose BODY_25 joint set before it reaches the dataset.
"""
