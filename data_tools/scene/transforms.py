"""4×4 affine matrices (numpy) for placing meshes, and the resolution → mesh-density rule."""

import numpy as np

DETAIL_BASE_RESOLUTION = 128  # mesh grids are sized for this resolution and scale linearly with it


def detail(resolution):
    """Mesh density factor: grids get this many times their base vertex count per side."""
    return max(resolution / DETAIL_BASE_RESOLUTION, 0.5)


def translation(offset):
    m = np.eye(4)
    m[:3, 3] = offset
    return m


def scale(factors):
    return np.diag(list(np.broadcast_to(np.asarray(factors, np.float64), (3,))) + [1.0])


def rotation(yaw_deg, tilt_x_deg=0.0, tilt_z_deg=0.0):
    """Rotation: tilt about X, then about Z, then yaw about Y (degrees)."""
    a, b, c = np.radians([tilt_x_deg, tilt_z_deg, yaw_deg])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rz = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    ry = np.array([[np.cos(c), 0, np.sin(c)], [0, 1, 0], [-np.sin(c), 0, np.cos(c)]])
    m = np.eye(4)
    m[:3, :3] = ry @ rz @ rx
    return m


def facing(origin, target, up=(0.0, 1.0, 0.0)):
    """Transform putting a +Y-facing XZ shape (a plane, a light quad) at `origin`, facing `target`."""
    forward = np.asarray(target, np.float64) - np.asarray(origin, np.float64)
    forward /= np.linalg.norm(forward)
    helper = np.asarray(up, np.float64) if abs(np.dot(forward, up)) < 0.99 else np.array([1.0, 0.0, 0.0])
    x = np.cross(helper, forward)
    x /= np.linalg.norm(x)
    z = np.cross(x, forward)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, forward, z, origin
    return m
