"""Synthetic hands in the FreiHAND format, and synthetic videos with per-frame ground truth (``handmesh-synth``).

Where things are:
    poses.py      anatomical axes of a hand model, random finger poses within joint limits, orientations,
                  the capsule self-intersection test
    scene.py      intrinsics, placement in the crop, procedural backgrounds, occluders, light, skin, camera effects
    sampler.py    HandSampler: annotated random hands (FreiHAND's 61 numbers, xyz, verts, scale) and their images
    dataset.py    the FreiHAND-layout writer: chunks, worker processes, resume, atomic JSON
    video.py      clips of a moving hand with a JSON sidecar; load_clip
    jsontext.py   fast JSON text for fixed-precision float arrays

Importing this package does no work.
"""
