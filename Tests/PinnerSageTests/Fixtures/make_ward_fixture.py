#!/usr/bin/env python3
"""Writes ward-fixture.json: point sets and SciPy's Ward linkage of each (the reference for
Tests/PinnerSageTests/WardClusteringTests.swift). Regenerate with Debian's python3-scipy:
    /usr/bin/python3 Tests/PinnerSageTests/Fixtures/make_ward_fixture.py
"""
import json
import os

import numpy as np
import scipy
from scipy.cluster.hierarchy import fcluster, linkage

rng = np.random.default_rng(7)
cases = {
    "random-2d": rng.standard_normal((12, 2)),
    "random-16d": rng.standard_normal((40, 16)),
    "clustered-8d": np.concatenate([c + 0.05 * rng.standard_normal((10, 8)) for c in rng.standard_normal((4, 8))]),
    # Ties: a unit grid has many equal distances.
    "grid-ties": np.array([[x, y] for x in range(4) for y in range(3)], dtype=float),
    # Duplicates: repeated points (zero distances) and a repeated pair.
    "duplicates": np.array([[0, 0], [0, 0], [1, 0], [0, 0], [5, 5], [5, 5], [1, 0], [3, 1]], dtype=float),
    "two-points": np.array([[0.0, 1.0], [3.0, 5.0]]),
}
out = {"scipy": scipy.__version__, "cases": []}
for name, points in cases.items():
    points = points.astype(np.float32)  # the Swift side reads float32 vectors
    z = linkage(points.astype(np.float64), method="ward")
    threshold = float(np.median(z[:, 2]))
    out["cases"].append({
        "name": name,
        "dimension": int(points.shape[1]),
        "points": points.ravel().tolist(),
        "linkage": z.tolist(),
        "threshold": threshold,
        "flat": fcluster(z, threshold, criterion="distance").tolist(),
    })
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "ward-fixture.json"), "w") as f:
    json.dump(out, f)
print("wrote ward-fixture.json with", len(out["cases"]), "cases (scipy", scipy.__version__ + ")")
