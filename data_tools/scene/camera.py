"""Cameras: 35 mm-equivalent focal lengths, framing a bounding sphere, elevation, azimuth and roll.

A square frame is treated as the 36 mm side of a full-frame sensor, so a focal length f gives
a field of view 2·atan(18 / f): 18 mm ≈ 90°, 50 mm ≈ 40°, 200 mm ≈ 10°.
"""

import numpy as np

SENSOR_MM = 36.0
FOCAL_RANGE_MM = (18.0, 200.0)
ELEVATION_RANGE_DEG = (-15.0, 85.0)
MAX_ROLL_DEG = 10.0


def _r(x, digits=4):
    return round(float(x), digits)


def fov_deg(focal_mm):
    return float(np.degrees(2.0 * np.arctan(SENSOR_MM / 2.0 / focal_mm)))


def focal(rng, low, high):
    """A focal length drawn log-uniformly in [low, high] mm (inside FOCAL_RANGE_MM)."""
    low, high = max(low, FOCAL_RANGE_MM[0]), min(high, FOCAL_RANGE_MM[1])
    return _r(np.exp(rng.uniform(np.log(low), np.log(high))), 2)  # as recorded, so fov follows from it


def direction(elevation_deg, azimuth_deg):
    """Unit vector from the target towards the camera (azimuth 90° = +Z, the front of a backdrop)."""
    e, a = np.radians([elevation_deg, azimuth_deg])
    return np.array([np.cos(e) * np.cos(a), np.sin(e), np.cos(e) * np.sin(a)])


def distance_for_fill(radius, fill, fov):
    """Distance at which a sphere of `radius` covers `fill` of a square frame's area (centred)."""
    tan_half = np.tan(np.radians(fov) / 2.0)
    angular_radius = np.arctan(tan_half * np.sqrt(4.0 * fill / np.pi))
    return float(radius / np.sin(angular_radius))


def look_at(origin, target, roll_deg, fov, focal_mm, resolution, exposure_bias, **extra):
    """Camera spec with a rolled up vector (world +Y before roll); records the view's actual elevation."""
    origin, target = np.asarray(origin, np.float64), np.asarray(target, np.float64)
    forward = target - origin
    forward /= np.linalg.norm(forward)
    extra["elevation_deg"] = _r(np.degrees(np.arcsin(np.clip(-forward[1], -1.0, 1.0))), 2)
    helper = np.array([0.0, 1.0, 0.0]) if abs(forward[1]) < 0.999 else np.array([0.0, 0.0, -1.0])
    right = np.cross(forward, helper)
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    roll = np.radians(roll_deg)
    up = np.cos(roll) * up + np.sin(roll) * right
    return dict({"origin": [_r(o) for o in origin], "target": [_r(t) for t in target], "up": [_r(u, 5) for u in up],
                 "fov_deg": _r(fov, 3), "focal_mm": _r(focal_mm, 2), "roll_deg": _r(roll_deg, 2),
                 "resolution": int(resolution), "exposure_bias": _r(exposure_bias, 3)}, **extra)


def roll(rng):
    return float(rng.uniform(-MAX_ROLL_DEG, MAX_ROLL_DEG))


def exposure_bias(rng):
    return float(rng.uniform(-0.7, 0.4))


def frame_sphere(rng, centre, radius, fill, focal_mm, elevation_deg, azimuth_deg, resolution, min_height=None,
                 obstacles=()):
    """A camera that frames a bounding sphere so it covers `fill` of the frame, slightly off-centre.

    The camera is kept above `min_height` (a table top or the floor; a function of the camera's
    (x, z) for terrain) and pulled back until it is outside every obstacle sphere ((centre, radius)
    pairs), so it never starts inside an object or a hill.
    """
    fov = fov_deg(focal_mm)
    distance = distance_for_fill(radius, fill, fov)
    view = direction(elevation_deg, azimuth_deg)
    centre = np.asarray(centre, np.float64)
    floor_at = min_height if callable(min_height) else (lambda xz: min_height)
    for _ in range(60):
        origin = centre + distance * view
        floor = floor_at(origin[[0, 2]]) if min_height is not None else None
        if floor is not None and origin[1] < floor:
            # Raise the camera, keeping its distance (and so the framing) and its azimuth.
            rise = floor - centre[1]
            horizontal = np.sqrt(max(distance ** 2 - rise ** 2, 0.0))
            flat = view[[0, 2]] / max(np.linalg.norm(view[[0, 2]]), 1e-9)
            origin = centre + np.array([flat[0] * horizontal, rise, flat[1] * horizontal])
        if all(np.linalg.norm(origin - np.asarray(c)) > r for c, r in obstacles):
            break
        distance *= 1.15
    # Off-centre composition: move the aim point sideways by up to a quarter of the free margin.
    half_width = distance * np.tan(np.radians(fov) / 2.0)
    margin = max(0.0, 1.0 - np.sqrt(fill)) * half_width
    forward = (centre - origin) / np.linalg.norm(centre - origin)
    side = np.cross(forward, [0.0, 1.0, 0.0])
    side /= max(np.linalg.norm(side), 1e-9)
    up = np.cross(side, forward)
    shift = rng.uniform(-0.5, 0.5, 2) * margin
    target = centre + side * shift[0] + up * shift[1]
    return look_at(origin, target, roll(rng), fov, focal_mm, resolution, exposure_bias(rng),
                   fill=_r(fill, 3), azimuth_deg=_r(azimuth_deg, 2))
