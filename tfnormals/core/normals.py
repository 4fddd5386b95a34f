"""Normal-map arithmetic on numpy arrays: encoding, normalization, space changes, errors."""

import numpy as np

from tfnormals.core import conventions


def normalize(n, eps=1e-8):
    """Scale vectors on the last axis to unit length (zero vectors stay zero)."""
    n = np.asarray(n, dtype=np.float32)
    length = np.linalg.norm(n, axis=-1, keepdims=True)
    return np.where(length > eps, n / np.maximum(length, eps), 0.0).astype(np.float32)


def encode(n):
    """Unit normals in [-1, 1] → [0, 1] for 8/16-bit storage."""
    return np.clip(0.5 * np.asarray(n, dtype=np.float32) + 0.5, 0.0, 1.0)


def decode(v):
    """[0, 1] stored values → normals in [-1, 1] (not renormalized)."""
    return 2.0 * np.asarray(v, dtype=np.float32) - 1.0


def world_to_camera(n_world, camera_to_world):
    """Rotate world-space normals into camera space.

    Args:
      n_world: (..., 3) normals.
      camera_to_world: 4×4 or 3×3 matrix whose first three columns are the camera's
        right, up and backward (+Z toward the viewer) axes in world space, as
        Maya, Houdini and Blender store a camera's transform.
    """
    rotation = np.asarray(camera_to_world, dtype=np.float32)[:3, :3]
    # Inverse of a rotation is its transpose; strip any scale by normalizing columns.
    rotation = rotation / np.linalg.norm(rotation, axis=0, keepdims=True)
    return normalize(np.asarray(n_world, dtype=np.float32) @ rotation)


def angular_error_deg(pred, target):
    """Angle in degrees between two (..., 3) normal fields, per pixel."""
    cos = np.sum(normalize(pred) * normalize(target), axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))).astype(np.float32)


def best_rotation(source, target, weight=None):
    """The rotation R (3×3) that best carries unit vectors `source` onto `target` (N×3 each, R @ s ≈ t; `weight`
    per pair, or all alike): Kabsch's least squares."""
    weight = np.ones(len(source)) if weight is None else weight
    u, _, vt = np.linalg.svd(((source * weight[:, None]).T @ target).astype(np.float64))
    fix = np.diag([1.0, 1.0, np.sign(np.linalg.det(vt.T @ u.T))])
    return vt.T @ fix @ u.T


def angular_metrics(errors_deg):
    """The field's standard summary of a flat array of per-pixel angular errors (degrees)."""
    errors_deg = np.asarray(errors_deg, dtype=np.float64).ravel()
    if errors_deg.size == 0:
        raise ValueError("no valid pixels to measure")
    metrics = {"mean": float(errors_deg.mean()), "median": float(np.median(errors_deg))}
    for t in conventions.ANGLE_THRESHOLDS_DEG:
        metrics[threshold_key(t)] = float(100.0 * np.mean(errors_deg < t))
    return metrics


def threshold_key(threshold_deg):
    """11.25 → 'within_11_25', 30.0 → 'within_30'."""
    text = f"{threshold_deg:g}".replace(".", "_")
    return f"within_{text}"


def unit_length_violation(n, mask):
    """Largest |1 - |n|| over pixels where mask ≥ threshold (0 when nothing is masked)."""
    valid = np.asarray(mask) >= conventions.MASK_THRESHOLD
    if not np.any(valid):
        return 0.0
    return float(np.max(np.abs(1.0 - np.linalg.norm(n[valid], axis=-1))))
