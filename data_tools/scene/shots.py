"""Random shot specs: one scene (sampling.sample_scene), a camera path, moving objects and every frame's camera.

Shot `shot` of a generation seeded by `seed` is the scene of sample `shot` of that seed, brought to life: its
own choices (the camera path, which objects move and how) come from the seed sequence (seed, shot, 1), and
frame i's sampler seed from (seed, shot, i, 2), so any frame can be rendered alone, by any task. A moving
object slides along a smooth curve on its support (a quadratic Bézier) while turning about the vertical axis
through its centre; `object_transforms` of a frame maps its rest pose (the scene spec's) to that frame's.
"""

import numpy as np

from data_tools.scene import camera_paths, families, sampling, sets, transforms
from tfnormals.core import camera, layout

SHOT_GENERATOR_VERSION = 1  # bump when the same (seed, shot) would give another shot
SHOT_STREAM, FRAME_STREAM = 1, 2
MAX_MOVING = 2
TRAVEL = (0.2, 0.6)      # a moving object's travel over the shot, in sizes (its largest side)
BEND = 0.3               # sideways bulge of its path, as a fraction of the travel
SPIN_DEG = 40.0          # most it turns about its vertical axis over the shot
HEADING_DEG = 30.0       # its travel direction is across the frame, give or take this
GROUND_CLEARANCE = 0.3   # a camera stays this high above terrain (as the outdoor family places it)
WALL_CLEARANCE = 0.15    # and this far inside a room's walls and ceiling


def sample_motion(rng, obj, right):
    """A moving object's path: pivot, Bézier end and control offsets (horizontal), spin; `right` is the camera's
    right axis (the travel goes across the frame)."""
    pivot, _ = families.bounding_sphere(obj)
    travel = max(obj["dims"]) * rng.uniform(*TRAVEL)
    heading = np.arctan2(right[2], right[0]) + np.radians(rng.uniform(-HEADING_DEG, HEADING_DEG))
    heading += np.pi * rng.integers(0, 2)
    end = travel * np.array([np.cos(heading), 0.0, np.sin(heading)])
    side = np.array([-end[2], 0.0, end[0]])
    control = end / 2.0 + side * rng.uniform(-BEND, BEND)
    return {"pivot": pivot.tolist(), "end": end.tolist(), "control": control.tolist(),
            "spin_deg": float(rng.uniform(-SPIN_DEG, SPIN_DEG))}


def motion_transform(motion, u):
    """4×4 world transform of a moving object after the fraction u of the shot (the identity at u = 0)."""
    offset = 2.0 * u * (1.0 - u) * np.asarray(motion["control"]) + u * u * np.asarray(motion["end"])
    pivot = np.asarray(motion["pivot"])
    return transforms.translation(pivot + offset) @ transforms.rotation(motion["spin_deg"] * u) @ \
        transforms.translation(-pivot)


def _reach(motion):
    """Farthest the object's pivot gets from its rest position (the Bézier stays inside its control hull)."""
    return max(np.linalg.norm(motion["end"]), np.linalg.norm(motion["control"]))


def camera_fits(spec, subject, moving):
    """function(origin) → whether a camera there stays in free space: outside every object's bounding sphere
    (grown by how far a moving object travels), above the terrain, inside a room, and no lower than the scene's
    own camera or the subject, whichever is lower (so it never dips under a table top or a backdrop's floor).
    A rule the scene's own camera already breaks (an interior camera inside a chair's sphere) is left out."""
    reach = {m["object"]: _reach(m) for m in moving}
    spheres = [(c, r + reach.get(k, 0.0)) for k, (c, r) in enumerate(families.obstacles(spec["objects"]))]
    lowest = min(spec["camera"]["origin"][1], float(subject[1]))
    set_spec = spec["set"]
    rules = [lambda o: o[1] >= lowest]
    rules += [lambda o, c=c, r=r: np.linalg.norm(o - c) > r for c, r in spheres]
    if set_spec["kind"] == "ground":
        rules.append(lambda o: o[1] >= float(sets.ground_height(set_spec, o[[0, 2]])[0]) + GROUND_CLEARANCE)
    if set_spec["kind"] == "room":
        rules.append(lambda o: abs(o[0]) < set_spec["width"] / 2 - WALL_CLEARANCE
                     and o[1] < set_spec["height"] - WALL_CLEARANCE and o[2] > -set_spec["depth"] / 2 + WALL_CLEARANCE)
    base = np.asarray(spec["camera"]["origin"], np.float64)
    rules = [rule for rule in rules if rule(base)]
    return lambda origin: all(rule(origin) for rule in rules)


def frame_seed(seed, shot, index):
    """The path tracer's seed for frame `index` (0-based) of a shot: fresh noise per frame, like film grain."""
    return int(np.random.SeedSequence([seed, shot, index, FRAME_STREAM]).generate_state(1)[0] % (2**31))


def sample_shot(seed, shot, resolution, num_frames, first_frame=layout.FIRST_FRAME, family_weights=None,
                kinds=camera_paths.KINDS, shake_share=0.3, moving_share=0.5):
    """The full description of shot `shot` of a generation seeded by `seed` (JSON-able).

    Args:
      kinds: camera path kinds to pick from, uniformly.
      shake_share: probability of handheld shake on a dolly, orbit or pan.
      moving_share: probability that one or more objects move.
    """
    spec = sampling.sample_scene(seed, shot, resolution, family_weights)
    rng = np.random.default_rng(np.random.SeedSequence([seed, shot, SHOT_STREAM]))
    kind = str(rng.choice(list(kinds)))
    shake = bool(rng.random() < shake_share)
    subject, _ = families.group_sphere(spec["objects"])
    moving = []
    if spec["objects"] and rng.random() < moving_share:
        count = int(rng.integers(1, min(MAX_MOVING, len(spec["objects"])) + 1))
        right = camera.look_at(spec["camera"]["origin"], spec["camera"]["target"], spec["camera"]["up"])[:3, 0]
        for k in sorted(int(k) for k in rng.choice(len(spec["objects"]), count, replace=False)):
            motion = sample_motion(rng, spec["objects"][k], right)
            moving.append(dict(object=k, id=layout.ID_FIRST_OBJECT + k, **motion))
    path = camera_paths.sample(rng, kind, shake, spec["camera"], subject, num_frames,
                               camera_fits(spec, subject, moving))
    frames = []
    for index, cam in enumerate(camera_paths.cameras(path, spec["camera"], num_frames)):
        u = index / (num_frames - 1) if num_frames > 1 else 0.0
        frames.append({"frame": first_frame + index, "camera": cam,
                       "camera_to_world": camera.look_at(cam["origin"], cam["target"], cam["up"]).tolist(),
                       "fov_deg": cam["fov_deg"], "focal_mm": cam["focal_mm"], "resolution": [resolution, resolution],
                       "object_transforms": {str(m["id"]): motion_transform(m, u).tolist() for m in moving},
                       "sampler_seed": frame_seed(seed, shot, index)})
    return {"generator": SHOT_GENERATOR_VERSION, "seed": int(seed), "shot": int(shot), "scene": spec,
            "camera_path": path, "moving_objects": moving, "frames": frames}
