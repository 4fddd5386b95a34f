"""Camera moves for rendered shots: dolly, orbit, pan or a locked-off handheld, with optional handheld shake.

A path is a JSON-able dict holding every random choice (kind, amount, direction, the shake's waves), and
`cameras(path, base, num_frames)` turns it into one camera per frame in data_tools.scene.camera's format
(origin, target, up, fov_deg, ...), so shot.json documents the move and rebuilding from it gives the same
frames. The move runs at constant speed from the scene's own camera (frame 0) to its end (the last frame):
  dolly     the camera travels along its view direction (in or out, partly sideways), aim kept;
  orbit     the camera circles the subject about a vertical axis, looking where it looked;
  pan       the camera turns about a vertical axis through itself, with a little tilt;
  handheld  the camera stays put and only shakes.
Shake is smooth: a few sine waves per axis (rotation about the camera's axes and a translation along them),
in cycles per frame, so it looks the same however long the shot is.
"""

import numpy as np

KINDS = ("dolly", "orbit", "pan", "handheld")
DOLLY_TRAVEL = (0.08, 0.25)       # of the distance to the subject, over the whole shot
DOLLY_SIDEWAYS_DEG = 30.0         # the travel direction turns up to this far from the view direction
ORBIT_DEG = (10.0, 35.0)
PAN_DEG = (6.0, 20.0)
PAN_TILT_DEG = 3.0
SHAKE_ROTATION_DEG = (0.05, 0.25)  # amplitude of each rotation axis
SHAKE_TRANSLATION = (0.001, 0.004)  # amplitude of each translation axis, as a fraction of the subject distance
SHAKE_CYCLES_PER_FRAME = (0.02, 0.15)  # about 0.5-3.6 Hz at 24 fps: at most ~0.25° of turn per frame
SHAKE_WAVES = 3
SHRINK_TRIES = 6  # a move that leaves the free space is halved this many times before it is dropped


def _rotation(axis, degrees):
    """3×3 rotation about a unit axis (Rodrigues)."""
    axis = np.asarray(axis, np.float64) / np.linalg.norm(axis)
    a = np.radians(degrees)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def _waves(rng, amplitude_range, axes=3):
    """Per axis, SHAKE_WAVES (amplitude, cycles per frame, phase) triples whose amplitudes sum to one draw."""
    result = []
    for _ in range(axes):
        amplitude = rng.uniform(*amplitude_range)
        weights = rng.dirichlet(np.ones(SHAKE_WAVES))
        result.append([[float(amplitude * w), float(rng.uniform(*SHAKE_CYCLES_PER_FRAME)),
                        float(rng.uniform(0.0, 2.0 * np.pi))] for w in weights])
    return result


def _wave_values(waves, index):
    return np.array([sum(a * np.sin(2.0 * np.pi * f * index + p) for a, f, p in axis) for axis in waves])


def sample(rng, kind, shake, base, subject, num_frames, fits=None):
    """A random path of `kind` starting at camera `base` (a scene spec's camera dict).

    Args:
      rng: numpy Generator; every draw is recorded in the result.
      kind: one of KINDS.
      shake: add handheld shake (a handheld path always shakes).
      subject: world point the shot is about (an orbit circles it; sizes scale with the distance to it).
      num_frames: frames of the shot (the free-space check looks at each).
      fits: function(origin) → bool, where the camera may be; a move leaving it is reversed, then halved, and
        after SHRINK_TRIES halvings dropped (the camera stays put); `reversed` and `halved` record it.
    """
    origin = np.asarray(base["origin"], np.float64)
    distance = float(np.linalg.norm(np.asarray(subject, np.float64) - origin))
    path = {"kind": kind, "subject": [float(v) for v in subject], "distance": distance, "amount": 0.0}
    if kind == "dolly":
        path["amount"] = float(rng.uniform(*DOLLY_TRAVEL) * distance * rng.choice([-1.0, 1.0], p=[0.4, 0.6]))
        path["sideways_deg"] = float(rng.uniform(-DOLLY_SIDEWAYS_DEG, DOLLY_SIDEWAYS_DEG))
    elif kind == "orbit":
        path["amount"] = float(rng.uniform(*ORBIT_DEG) * rng.choice([-1.0, 1.0]))
    elif kind == "pan":
        path["amount"] = float(rng.uniform(*PAN_DEG) * rng.choice([-1.0, 1.0]))
        path["tilt_deg"] = float(rng.uniform(-PAN_TILT_DEG, PAN_TILT_DEG))
    elif kind != "handheld":
        raise ValueError(f"unknown camera path {kind!r}; known: {', '.join(KINDS)}")
    path["shake"] = None
    if shake or kind == "handheld":
        path["shake"] = {"rotation_deg": _waves(rng, SHAKE_ROTATION_DEG),
                         "translation": _waves(rng, np.asarray(SHAKE_TRANSLATION) * distance)}
    path["reversed"], path["halved"] = False, 0
    while fits is not None and path["amount"] and not all(  # the move, without its millimetre shake
            fits(np.asarray(c["origin"])) for c in cameras(dict(path, shake=None), base, num_frames)):
        if not path["reversed"]:
            path["reversed"], path["amount"] = True, -path["amount"]
            continue
        path["halved"] += 1
        scale = 0.5 if path["halved"] < SHRINK_TRIES else 0.0  # at last the camera stays where the scene put it
        path["amount"] *= scale
        if path.get("tilt_deg"):
            path["tilt_deg"] *= scale
    return path


def _moved(path, origin, forward, up, u):
    """(origin, forward, up) after the fraction u of the path's move."""
    amount = path["amount"] * u
    if path["kind"] == "dolly":
        direction = _rotation([0.0, 1.0, 0.0], path["sideways_deg"]) @ forward
        return origin + direction * amount, forward, up
    if path["kind"] == "orbit":
        turn = _rotation([0.0, 1.0, 0.0], amount)
        subject = np.asarray(path["subject"])
        return subject + turn @ (origin - subject), turn @ forward, turn @ up
    if path["kind"] == "pan":
        turn = _rotation([0.0, 1.0, 0.0], amount)
        forward, up = turn @ forward, turn @ up
        tilt = _rotation(np.cross(forward, up), path["tilt_deg"] * u)
        return origin, tilt @ forward, tilt @ up
    return origin, forward, up


def _shaken(shake, origin, forward, up, index):
    """Apply frame `index`'s shake: rotations about the camera's up, right and view axes, then a translation."""
    yaw, pitch, roll = _wave_values(shake["rotation_deg"], index)
    right = np.cross(forward, up)
    turn = _rotation(forward, roll) @ _rotation(right, pitch) @ _rotation(up, yaw)
    shift = _wave_values(shake["translation"], index)
    return origin + shift[0] * right + shift[1] * up - shift[2] * forward, turn @ forward, turn @ up


def cameras(path, base, num_frames):
    """One camera dict per frame (origin, target, up, fov_deg, focal_mm, resolution, exposure_bias)."""
    origin = np.asarray(base["origin"], np.float64)
    target = np.asarray(base["target"], np.float64)
    reach = float(np.linalg.norm(target - origin))
    forward = (target - origin) / reach
    right = np.cross(forward, base["up"])
    up = np.cross(right / np.linalg.norm(right), forward)  # as the renderer's look-at makes it
    frames = []
    for index in range(num_frames):
        u = index / (num_frames - 1) if num_frames > 1 else 0.0
        o, f, v = _moved(path, origin, forward, up, u)
        if path["shake"]:
            o, f, v = _shaken(path["shake"], o, f, v, index)
        frames.append({"origin": o.tolist(), "target": (o + f * reach).tolist(), "up": v.tolist(),
                       **{key: base[key] for key in ("fov_deg", "focal_mm", "resolution", "exposure_bias")}})
    return frames
