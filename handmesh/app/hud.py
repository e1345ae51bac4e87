"""The heads-up display drawn on the demo's picture: FPS and hands, the latest per-stage times, the keys."""

from __future__ import annotations

import numpy as np

from handmesh.pipeline.timing import StageTimer

KEYS_HELP = "q/Esc quit  m mesh  s skeleton  space pause"


def draw_hud(image: np.ndarray, lines: list[str]) -> np.ndarray:
    """Write text lines at the top-left of ``image`` in place: white on a darkened band, legible on any picture."""
    import cv2

    scale = max(0.4, min(image.shape[:2]) / 900.0)
    font = cv2.FONT_HERSHEY_SIMPLEX
    (_, th), base = cv2.getTextSize("Ag", font, scale, 1)
    step = th + base + 4
    width = max(cv2.getTextSize(t, font, scale, 1)[0][0] for t in lines) + 12 if lines else 0
    height = min(step * len(lines) + 6, image.shape[0])
    band = image[:height, : min(width, image.shape[1])]
    band[:] = (band.astype(np.uint16) * 2 // 5).astype(np.uint8)  # darken to 40 %
    for k, text in enumerate(lines):
        cv2.putText(image, text, (6, 4 + th + step * k), font, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return image


def hud_lines(fps: float, timer: StageTimer, hands: list, state: dict[str, bool], keys: bool) -> list[str]:
    """The on-screen read-out: FPS and hands, the latest per-stage times, and the keys when a window is shown."""
    sides = ", ".join(h.handedness for h in hands) or "no hand"
    short = {
        "capture": "cap",
        "detect": "det",
        "crop": "crop",
        "network": "net",
        "hand_model": "hand",
        "render": "draw",
    }
    stages = " ".join(f"{short.get(k, k)} {v:.1f}" for k, v in timer.last.items())
    lines = [f"{fps:5.1f} FPS  {sides}", f"{stages} ms"]
    if keys:
        lines.append(KEYS_HELP + ("  [paused]" if state.get("paused") else ""))
    return lines
