"""Numba kernels of the rasterizer: vertex normals, screen window, z-buffer rasterization, shading, compositing.

Importing this module imports numba but compiles nothing: each kernel compiles on its first call (``cache=True``
keeps the machine code in ``__pycache__`` for the next process). The public, documented entry points are in
:mod:`handmesh.render.rasterize` and :mod:`handmesh.render.renderer`; these functions take plain arrays.

Pixel convention (OpenCV's): pixel ``(x, y)`` is centred on the image point ``(x, y)``, so a vertex that projects to
``(100.0, 50.0)`` lies on the centre of column 100, row 50. Pixels are sampled at their centres.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    """Area-weighted vertex normals ``(V, 3)`` float32, unit length (zero for unused vertices)."""
    nv = verts.shape[0]
    acc = np.zeros((nv, 3), np.float64)
    for f in range(faces.shape[0]):
        i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
        ax = verts[i1, 0] - verts[i0, 0]
        ay = verts[i1, 1] - verts[i0, 1]
        az = verts[i1, 2] - verts[i0, 2]
        bx = verts[i2, 0] - verts[i0, 0]
        by = verts[i2, 1] - verts[i0, 1]
        bz = verts[i2, 2] - verts[i0, 2]
        # The cross product's length is twice the face area: summing it weights faces by area.
        nx = ay * bz - az * by
        ny = az * bx - ax * bz
        nz = ax * by - ay * bx
        for i in (i0, i1, i2):
            acc[i, 0] += nx
            acc[i, 1] += ny
            acc[i, 2] += nz
    out = np.zeros((nv, 3), np.float32)
    for i in range(nv):
        n = math.sqrt(acc[i, 0] ** 2 + acc[i, 1] ** 2 + acc[i, 2] ** 2)
        if n > 0.0:
            out[i, 0] = acc[i, 0] / n
            out[i, 1] = acc[i, 1] / n
            out[i, 2] = acc[i, 2] / n
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def screen_window(verts, faces, fx, fy, cx, cy, near, width, height, margin):  # pragma: no cover - numba
    """Pixel window ``(x0, y0, x1, y1)`` (x1, y1 exclusive) that holds every pixel the faces can cover, grown by
    ``margin`` and clipped to the image; ``x0 >= x1`` or ``y0 >= y1`` when nothing can be visible.

    A face that crosses the near plane can reach arbitrarily far across the image, so it widens the window to
    the whole image.
    """
    umin = np.inf
    vmin = np.inf
    umax = -np.inf
    vmax = -np.inf
    for f in range(faces.shape[0]):
        n_front = 0
        finite = True
        for k in range(3):
            i = faces[f, k]
            x = verts[i, 0]
            y = verts[i, 1]
            z = verts[i, 2]
            if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
                finite = False
            elif z > near:
                n_front += 1
        if not finite or n_front == 0:
            continue
        if n_front < 3:
            return 0, 0, width, height
        for k in range(3):
            i = faces[f, k]
            u = fx * verts[i, 0] / verts[i, 2] + cx
            v = fy * verts[i, 1] / verts[i, 2] + cy
            umin = min(umin, u)
            umax = max(umax, u)
            vmin = min(vmin, v)
            vmax = max(vmax, v)
    if umin > umax:
        return 0, 0, 0, 0
    # Pixels whose centres lie in [umin, umax]; clamp in float first so huge coordinates cannot overflow ints.
    x0 = int(math.ceil(max(min(umin, width + 1.0), -1.0))) - margin
    x1 = int(math.floor(max(min(umax, width + 1.0), -1.0))) + 1 + margin
    y0 = int(math.ceil(max(min(vmin, height + 1.0), -1.0))) - margin
    y1 = int(math.floor(max(min(vmax, height + 1.0), -1.0))) + 1 + margin
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _raster_triangle(p, pb, face, fx, fy, cx, cy, zbuf, fid, bary):  # pragma: no cover - numba
    """Rasterize one triangle given in window-relative camera terms.

    ``p (3, 3)``: camera-space corners with z > 0 (``cx, cy`` already shifted into the window); ``pb (3, 3)``: the
    barycentric coordinates of each corner with respect to the original face (identity unless clipped).
    Writes the nearest fragment per pixel: depth, face id, perspective-correct barycentrics of the original face.
    """
    h, w = zbuf.shape
    iz0 = 1.0 / p[0, 2]
    iz1 = 1.0 / p[1, 2]
    iz2 = 1.0 / p[2, 2]
    u0 = fx * p[0, 0] * iz0 + cx
    v0 = fy * p[0, 1] * iz0 + cy
    u1 = fx * p[1, 0] * iz1 + cx
    v1 = fy * p[1, 1] * iz1 + cy
    u2 = fx * p[2, 0] * iz2 + cx
    v2 = fy * p[2, 1] * iz2 + cy
    area = (u1 - u0) * (v2 - v0) - (u2 - u0) * (v1 - v0)
    if not (abs(area) > 1e-12):  # degenerate (or NaN): covers no pixel centre reliably
        return
    xmin = max(int(math.ceil(max(min(u0, u1, u2), -1.0))), 0)
    xmax = min(int(math.floor(min(max(u0, u1, u2), w + 1.0))), w - 1)
    ymin = max(int(math.ceil(max(min(v0, v1, v2), -1.0))), 0)
    ymax = min(int(math.floor(min(max(v0, v1, v2), h + 1.0))), h - 1)
    if xmin > xmax or ymin > ymax:
        return
    inv_area = 1.0 / area
    # Screen-space barycentrics are affine in (x, y): lam_k = a_k + bx_k * x + by_k * y. Dividing by the signed
    # area makes them positive inside for either winding on screen.
    bx0 = (v1 - v2) * inv_area
    by0 = (u2 - u1) * inv_area
    a0 = (u1 * v2 - u2 * v1) * inv_area
    bx1 = (v2 - v0) * inv_area
    by1 = (u0 - u2) * inv_area
    a1 = (u2 * v0 - u0 * v2) * inv_area
    eps = 1e-9
    for y in range(ymin, ymax + 1):
        c0 = a0 + by0 * y
        c1 = a1 + by1 * y
        c2 = 1.0 - c0 - c1
        bx2 = -bx0 - bx1
        # The span of x where all three barycentrics are >= 0, solved per row instead of tested per pixel.
        lo = float(xmin)
        hi = float(xmax)
        empty = False
        for c, b in ((c0, bx0), (c1, bx1), (c2, bx2)):
            if b > 0.0:
                lo = max(lo, (-c - eps) / b)
            elif b < 0.0:
                hi = min(hi, (-c - eps) / b)
            elif c < -eps:
                empty = True
        if empty or lo > hi:
            continue
        xs = int(math.ceil(lo))
        xe = int(math.floor(hi))
        for x in range(xs, xe + 1):
            l0 = c0 + bx0 * x
            l1 = c1 + bx1 * x
            l2 = 1.0 - l0 - l1
            if l0 < -eps or l1 < -eps or l2 < -eps:
                continue
            # Perspective-correct interpolation: 1/z is affine in screen space (Heckbert & Moreton 1991).
            q0 = l0 * iz0
            q1 = l1 * iz1
            q2 = l2 * iz2
            iz = q0 + q1 + q2
            if not (iz > 0.0):
                continue
            z = 1.0 / iz
            if z < zbuf[y, x]:
                zbuf[y, x] = z
                fid[y, x] = face
                q0 *= z
                q1 *= z
                q2 *= z
                for k in range(3):
                    bary[y, x, k] = q0 * pb[0, k] + q1 * pb[1, k] + q2 * pb[2, k]


@njit(cache=True, nogil=True, error_model="numpy")
def rasterize_faces(verts, faces, fx, fy, cx, cy, near, cull, zbuf, fid, bary):  # pragma: no cover - numba
    """Z-buffer rasterization of all faces into window buffers.

    Args:
        verts: ``(V, 3)`` float camera-frame metres.
        faces: ``(F, 3)`` int32.
        fx, fy, cx, cy: intrinsics, with ``cx, cy`` already shifted by the window origin.
        near: near-plane depth (metres); geometry with z <= near is clipped away.
        cull: skip faces whose outward normal points away from the camera.
        zbuf: ``(h, w)`` float32, filled with inf; receives depth in metres.
        fid: ``(h, w)`` int32, filled with -1; receives the face index.
        bary: ``(h, w, 3)`` float32; receives the barycentrics of the face's corners where ``fid >= 0``.
    """
    p = np.empty((3, 3))
    pb = np.empty((3, 3))
    poly = np.empty((4, 3))
    polyb = np.empty((4, 3))
    corner = np.empty((3, 3))
    eye = np.eye(3)
    for f in range(faces.shape[0]):
        ok = True
        n_front = 0
        for k in range(3):
            i = faces[f, k]
            for j in range(3):
                corner[k, j] = verts[i, j]
                if not math.isfinite(corner[k, j]):
                    ok = False
            if corner[k, 2] > near:
                n_front += 1
        if not ok or n_front == 0:
            continue
        if cull:
            ex = corner[1, 0] - corner[0, 0]
            ey = corner[1, 1] - corner[0, 1]
            ez = corner[1, 2] - corner[0, 2]
            gx = corner[2, 0] - corner[0, 0]
            gy = corner[2, 1] - corner[0, 1]
            gz = corner[2, 2] - corner[0, 2]
            nx = ey * gz - ez * gy
            ny = ez * gx - ex * gz
            nz = ex * gy - ey * gx
            # The camera sits at the origin: the face is seen from its front when its normal points against the
            # viewing ray to any of its points.
            if nx * corner[0, 0] + ny * corner[0, 1] + nz * corner[0, 2] >= 0.0:
                continue
        if n_front == 3:
            _raster_triangle(corner, eye, f, fx, fy, cx, cy, zbuf, fid, bary)
            continue
        # Sutherland-Hodgman against z = near: 1 corner in front gives a triangle, 2 give a quad (two triangles).
        m = 0
        for k in range(3):
            kn = (k + 1) % 3
            za = corner[k, 2]
            zb = corner[kn, 2]
            if za > near:
                for j in range(3):
                    poly[m, j] = corner[k, j]
                    polyb[m, j] = eye[k, j]
                m += 1
            if (za > near) != (zb > near):
                t = (near - za) / (zb - za)
                for j in range(3):
                    poly[m, j] = corner[k, j] + t * (corner[kn, j] - corner[k, j])
                    polyb[m, j] = eye[k, j] + t * (eye[kn, j] - eye[k, j])
                poly[m, 2] = near
                m += 1
        for tri in range(m - 2):
            for j in range(3):
                p[0, j] = poly[0, j]
                p[1, j] = poly[tri + 1, j]
                p[2, j] = poly[tri + 2, j]
                pb[0, j] = polyb[0, j]
                pb[1, j] = polyb[tri + 1, j]
                pb[2, j] = polyb[tri + 2, j]
            _raster_triangle(p, pb, f, fx, fy, cx, cy, zbuf, fid, bary)


@njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def shade(
    fid,
    bary,
    faces,
    normals,
    face_color,
    fx,
    fy,
    cx,
    cy,
    light_dir,
    light_color,
    ambient,
    diffuse,
    specular,
    shininess,
    out,
):  # pragma: no cover - numba
    """Blinn-Phong shading of every covered window pixel into ``out (h, w, 3)`` float32 RGB 0-1.

    ``cx, cy`` are window-relative. Normals are interpolated with the perspective-correct barycentrics and
    re-normalized (Phong shading); a normal facing away from the camera (culling off, thin geometry) is flipped
    (two-sided light). The specular term uses a viewer at infinity and a 1024-entry power table: per-pixel view
    vectors and ``pow`` cost more than the rest of the shading together.
    """
    h, w = fid.shape
    lx, ly, lz = light_dir[0], light_dir[1], light_dir[2]
    nlut = 1024
    lut = np.empty(nlut + 1, np.float64)
    for i in range(nlut + 1):
        lut[i] = specular * (i / nlut) ** shininess
    ifx = 1.0 / fx
    ify = 1.0 / fy
    # Half vector with the viewer at infinity along -z (OpenGL's default, non-local viewer): one per image
    # instead of two normalizations per pixel; the highlight moves little for a hand-sized object.
    hx, hy, hz = lx, ly, lz - 1.0
    hn = math.sqrt(hx * hx + hy * hy + hz * hz)
    if hn > 0.0:
        hx, hy, hz = hx / hn, hy / hn, hz / hn
    for y in range(h):
        ry = (y - cy) * ify
        for x in range(w):
            f = fid[y, x]
            if f < 0:
                continue
            i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
            b0, b1, b2 = bary[y, x, 0], bary[y, x, 1], bary[y, x, 2]
            nx = b0 * normals[i0, 0] + b1 * normals[i1, 0] + b2 * normals[i2, 0]
            ny = b0 * normals[i0, 1] + b1 * normals[i1, 1] + b2 * normals[i2, 1]
            nz = b0 * normals[i0, 2] + b1 * normals[i1, 2] + b2 * normals[i2, 2]
            inn = 1.0 / math.sqrt(nx * nx + ny * ny + nz * nz + 1e-30)
            nx *= inn
            ny *= inn
            nz *= inn
            # Two-sided lighting: face the normal against the pixel's viewing ray (x', y', 1).
            if nx * (x - cx) * ifx + ny * ry + nz > 0.0:
                nx, ny, nz = -nx, -ny, -nz
            ndl = max(nx * lx + ny * ly + nz * lz, 0.0)
            spec = 0.0
            if specular > 0.0:
                ndh = nx * hx + ny * hy + nz * hz
                if ndh > 0.0:
                    spec = lut[int(min(ndh, 1.0) * nlut + 0.5)]
            for c in range(3):
                v = face_color[f, c] * (ambient + diffuse * ndl * light_color[c]) + spec * light_color[c]
                out[y, x, c] = min(max(v, 0.0), 1.0)


@njit(cache=True, nogil=True, error_model="numpy")
def composite(frame, x0, y0, fid, shaded, alpha, antialias):  # pragma: no cover - numba
    """Blend shaded window pixels onto ``frame (H, W, 3)`` uint8 in place at window origin ``(x0, y0)``.

    Without anti-aliasing, covered pixels get ``frame * (1 - alpha) + 255 * shaded * alpha``. With it, each
    pixel's coverage is the 3x3 tent-filtered coverage mask (weights 1-2-1), which turns the stair-stepped
    silhouette into a one-pixel ramp while preserving the covered area; a pixel just outside the silhouette takes
    the coverage-weighted colour of its covered neighbours.
    """
    h, w = fid.shape
    for y in range(h):
        for x in range(w):
            covered = fid[y, x] >= 0
            cov = 16.0
            if antialias:
                edge = False
                if covered:
                    # Interior pixels (all 4-neighbours covered) keep full coverage: the common fast path.
                    if x == 0 or y == 0 or x == w - 1 or y == h - 1:
                        edge = True
                    elif fid[y, x - 1] < 0 or fid[y, x + 1] < 0 or fid[y - 1, x] < 0 or fid[y + 1, x] < 0:
                        edge = True
                    elif (
                        fid[y - 1, x - 1] < 0 or fid[y - 1, x + 1] < 0 or fid[y + 1, x - 1] < 0 or fid[y + 1, x + 1] < 0
                    ):
                        edge = True
                else:
                    edge = True
                if edge:
                    cov = 0.0
                    r = 0.0
                    g = 0.0
                    b = 0.0
                    for dy in range(-1, 2):
                        yy = y + dy
                        if yy < 0 or yy >= h:
                            continue
                        for dx in range(-1, 2):
                            xx = x + dx
                            if xx < 0 or xx >= w or fid[yy, xx] < 0:
                                continue
                            wgt = (2.0 - abs(dx)) * (2.0 - abs(dy))
                            cov += wgt
                            r += wgt * shaded[yy, xx, 0]
                            g += wgt * shaded[yy, xx, 1]
                            b += wgt * shaded[yy, xx, 2]
                    if cov == 0.0:
                        continue
                    if not covered:
                        a = alpha * cov / 16.0
                        fy_ = y0 + y
                        fx_ = x0 + x
                        frame[fy_, fx_, 0] = np.uint8(frame[fy_, fx_, 0] * (1.0 - a) + 255.0 * a * r / cov + 0.5)
                        frame[fy_, fx_, 1] = np.uint8(frame[fy_, fx_, 1] * (1.0 - a) + 255.0 * a * g / cov + 0.5)
                        frame[fy_, fx_, 2] = np.uint8(frame[fy_, fx_, 2] * (1.0 - a) + 255.0 * a * b / cov + 0.5)
                        continue
            elif not covered:
                continue
            a = alpha * cov / 16.0
            for c in range(3):
                frame[y0 + y, x0 + x, c] = np.uint8(
                    frame[y0 + y, x0 + x, c] * (1.0 - a) + 255.0 * a * shaded[y, x, c] + 0.5
                )
