"""data_tools.scene.procedural: texture and displacement patterns (pure numpy).

The module's claims: every 2-D pattern is a float32 size×size array in [0, 1], reproducible from
its numpy Generator, and tileable (the renderer repeats textures across surfaces); 3-D noise is
smooth, in [-1, 1] and a function of (point, seed) alone.
"""

import numpy as np
import pytest

from data_tools.scene import procedural

SIZE = 96
TILED_KINDS = [k for k in procedural.PATTERN_KINDS if k != "photo"]  # a photo crop is not periodic
BRICKS_SIZE = 1024  # every mortar line at least two pixels wide, so courses and joints can be found


class FixedLattice:
    """Stands in for a numpy Generator whose next `random` draw is a given lattice."""

    def __init__(self, lattice):
        self.lattice = lattice

    def random(self, shape, dtype=np.float64):
        assert shape == self.lattice.shape
        return self.lattice.astype(dtype)


def seam_and_interior_jumps(a):
    """(largest step across the wrap-around seams, largest step between neighbouring pixels inside)."""
    inside = max(np.abs(np.diff(a, axis=0)).max(), np.abs(np.diff(a, axis=1)).max())
    seam = max(np.abs(a[0] - a[-1]).max(), np.abs(a[:, 0] - a[:, -1]).max())
    return seam, inside


@pytest.mark.parametrize("kind", procedural.PATTERN_KINDS)
def test_patterns_are_float32_in_unit_range_and_reproducible(kind):
    a = procedural.pattern(np.random.default_rng(5), SIZE, kind)
    assert a.dtype == np.float32 and a.shape == (SIZE, SIZE)
    assert np.all(np.isfinite(a)) and a.min() >= 0.0 and a.max() <= 1.0
    assert a.max() - a.min() > 0.3  # a pattern, not a flat field
    np.testing.assert_array_equal(procedural.pattern(np.random.default_rng(5), SIZE, kind), a)
    assert not np.array_equal(procedural.pattern(np.random.default_rng(6), SIZE, kind), a)


@pytest.mark.parametrize("kind", TILED_KINDS)
def test_tiled_patterns_have_no_seam(kind):
    """Placed next to itself, a tile continues across the seam: the step there is no larger than the
    largest step inside (a non-periodic pattern, e.g. a ramp or a photo crop, fails this)."""
    for seed in range(8):
        seam, inside = seam_and_interior_jumps(procedural.pattern(np.random.default_rng(seed), SIZE, kind))
        assert seam <= inside + 1e-6, (kind, seed, seam, inside)
    ramp = np.tile(np.linspace(0.0, 1.0, SIZE, dtype=np.float32), (SIZE, 1))
    assert seam_and_interior_jumps(ramp)[0] > 10 * seam_and_interior_jumps(ramp)[1]  # the check can fail


def test_value_noise_wraps_its_lattice_and_is_resolution_independent():
    """Shifting the lattice by one cell shifts the image by size/cells pixels (the interpolation wraps
    around), and a finer image of the same lattice contains the coarser one's samples."""
    cells = 6
    lattice = np.random.default_rng(0).random((cells, cells))
    noise = procedural.value_noise(FixedLattice(lattice), SIZE, cells)
    assert noise.shape == (SIZE, SIZE) and 0.0 <= noise.min() and noise.max() <= 1.0
    step = SIZE // cells
    np.testing.assert_allclose(procedural.value_noise(FixedLattice(np.roll(lattice, 1, axis=1)), SIZE, cells),
                               np.roll(noise, step, axis=1), atol=1e-6)
    np.testing.assert_allclose(procedural.value_noise(FixedLattice(np.roll(lattice, -2, axis=0)), SIZE, cells),
                               np.roll(noise, -2 * step, axis=0), atol=1e-6)
    fine = procedural.value_noise(FixedLattice(lattice), 2 * SIZE, cells)
    np.testing.assert_allclose(fine[::2, ::2], noise, atol=1e-6)
    # Lattice points are hit exactly: pixel (i·step, j·step) holds lattice[i, j].
    np.testing.assert_allclose(noise[::step, ::step], lattice, atol=1e-6)


def test_rescale_and_smoothstep_known_values():
    out = procedural.rescale(np.array([[2.0, 4.0], [3.0, 6.0]]))
    np.testing.assert_allclose(out, [[0.0, 0.5], [0.25, 1.0]])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(procedural.rescale(np.full((3, 3), 7.0)), 0.5)
    np.testing.assert_allclose(procedural.smoothstep(np.array([0.0, 0.25, 0.5, 1.0])), [0.0, 0.15625, 0.5, 1.0])
    fbm = procedural.fbm(np.random.default_rng(1), SIZE)
    assert fbm.min() == 0.0 and fbm.max() == 1.0  # rescaled to span [0, 1]


def test_cells_edges_are_small_along_cell_borders():
    """F2 − F1 (rescaled) is 0 where two feature points are equally near: the cracks of the cell pattern."""
    f1, edges = procedural.cells(np.random.default_rng(3), SIZE, return_edges=True)
    assert f1.shape == edges.shape == (SIZE, SIZE)
    assert edges.min() == 0.0 and edges.max() == 1.0
    # Feature points (F1 minima) lie inside cells, far from the cracks.
    centre = np.unravel_index(np.argmin(f1), f1.shape)
    assert edges[centre] > 0.3


def test_value_noise_3d_is_smooth_bounded_and_seeded():
    points = np.random.default_rng(0).uniform(-3.0, 3.0, (2000, 3))
    a = procedural.value_noise_3d(points, seed=11, frequency=2.0)
    assert a.shape == (2000,) and a.dtype == np.float32
    assert -1.0 <= a.min() and a.max() <= 1.0 and a.std() > 0.2
    np.testing.assert_array_equal(procedural.value_noise_3d(points, seed=11, frequency=2.0), a)
    assert not np.allclose(procedural.value_noise_3d(points, seed=12, frequency=2.0), a)
    # Continuous: a tiny move changes the value a little (the lattice is interpolated with smoothstep).
    nearby = procedural.value_noise_3d(points + 1e-3, seed=11, frequency=2.0)
    assert np.abs(nearby - a).max() < 0.02
    f = procedural.fbm_3d(points, seed=11, frequency=1.0, octaves=4)
    assert -1.0 <= f.min() and f.max() <= 1.0


def _checker_board(a):
    return a > 0.5  # squares are 0.1–0.2 or 0.9–1.0 (0.1 + 0.8·board + 0.1·noise)


def _course_signatures(a):
    """For each course of bricks (rows between horizontal mortar lines), the columns of its vertical joints."""
    face_rows = a.max(axis=1) > 0.5
    signatures, start = [], None
    for r in range(len(a) + 1):
        inside = r < len(a) and face_rows[r]
        if inside and start is None:
            start = r
        if not inside and start is not None:
            signatures.append(a[(start + r) // 2] < 0.5)
            start = None
    return signatures


def test_running_bond_courses_alternate_their_joints():
    """Inside a bricks tile, consecutive courses either all line up (stack bond) or alternate (running bond)."""
    bonds = set()
    for seed in range(12):
        courses = _course_signatures(procedural.bricks(np.random.default_rng(seed), BRICKS_SIZE))
        assert len(courses) >= 3
        stack_bond = all(np.array_equal(c, courses[0]) for c in courses)
        bonds.add(stack_bond)
        assert stack_bond or all(not np.array_equal(a, b) for a, b in zip(courses, courses[1:])), seed
    assert bonds == {True, False}  # both kinds were drawn


@pytest.mark.xfail(strict=True, reason="procedural.bricks: a running bond with an odd number of courses does not "
                                       "tile (the last and first course have aligned joints); reported to the "
                                       "renderer's owner, remove this mark when fixed")
def test_running_bond_alternates_across_the_seam():
    for seed in range(12):
        courses = _course_signatures(procedural.bricks(np.random.default_rng(seed), BRICKS_SIZE))
        if not all(np.array_equal(c, courses[0]) for c in courses):
            assert not np.array_equal(courses[-1], courses[0]), seed


@pytest.mark.xfail(strict=True, reason="procedural.checkers: an odd number of squares does not tile (two squares of "
                                       "one colour meet at the seam); reported to the renderer's owner, remove "
                                       "this mark when fixed")
def test_checkers_alternate_across_the_seam():
    for seed in range(12):
        board = _checker_board(procedural.checkers(np.random.default_rng(seed), SIZE))
        assert np.all(board[:, 0] != board[:, -1]) and np.all(board[0] != board[-1]), seed
