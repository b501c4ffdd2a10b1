// Loads the served geography as one GeoJSON FeatureCollection in the layout
// of docs/data-model.md (properties.layer / properties.id).
//
// Primary source: GET /api/v1/geography (the geography file as served by the
// API). If the API does not offer it, the collection is assembled from the
// documented endpoints: /api/v1/segments (segments), /api/v1/stations,
// /api/v1/shelters and /api/v1/roads. Towns, villages, cameras and the land
// boundary are only available from the first source.

import { getJSON } from "./api.js";

export async function loadGeography() {
  try {
    const fc = await getJSON("/api/v1/geography", { timeoutMs: 15000 });
    if (fc && Array.isArray(fc.features)) return { fc, complete: true };
  } catch (e) {
    if (!(e.status === 404 || e.status === 405)) throw e;
  }
  const [segs, stations, shelters, roads] = await Promise.all([
    getJSON("/api/v1/segments"),
    getJSON("/api/v1/stations").catch(() => ({ items: [] })),
    getJSON("/api/v1/shelters").catch(() => ({ items: [] })),
    getJSON("/api/v1/roads").catch(() => ({ items: [] })),
  ]);
  const features = [];
  for (const f of segs.features || []) features.push({ ...f, properties: { ...f.properties, layer: "seawall_segment" } });
  for (const s of stations.items || []) {
    features.push({ type: "Feature", geometry: { type: "Point", coordinates: [s.lon, s.lat] }, properties: { ...s, layer: "station" } });
  }
  for (const s of shelters.items || []) {
    features.push({ type: "Feature", geometry: { type: "Point", coordinates: [s.lon, s.lat] }, properties: { ...s, layer: "shelter" } });
  }
  for (const r of roads.items || []) {
    if (r.geometry) features.push({ type: "Feature", geometry: r.geometry, properties: { ...r, geometry: undefined, layer: "road" } });
  }
  return { fc: { type: "FeatureCollection", features }, complete: false };
}

export function byLayer(fc) {
  const out = {};
  for (const f of fc.features || []) {
    const p = f.properties || {};
    (out[p.layer] ||= {})[p.id] = f;
  }
  return out;
}

// Point-in-polygon (ray casting) on lon/lat, good enough for village lookup.
export function contains(geom, [x, y]) {
  const polys = geom.type === "Polygon" ? [geom.coordinates] : geom.type === "MultiPolygon" ? geom.coordinates : [];
  const inRing = (ring) => {
    let c = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i], [xj, yj] = ring[j];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) c = !c;
    }
    return c;
  };
  for (const poly of polys) if (inRing(poly[0]) && !poly.slice(1).some(inRing)) return true;
  return false;
}

// A representative interior point of a polygon: the centroid if inside,
// else the first vertex nudged towards the centroid.
export function interiorPoint(geom) {
  const ring = geom.type === "Polygon" ? geom.coordinates[0] : geom.coordinates[0][0];
  let sx = 0, sy = 0;
  const n = ring.length - 1 || 1;
  for (let i = 0; i < n; i++) { sx += ring[i][0]; sy += ring[i][1]; }
  const c = [sx / n, sy / n];
  if (contains(geom, c)) return c;
  for (let t = 0.1; t < 1; t += 0.1) {
    for (const v of ring) {
      const p = [v[0] + (c[0] - v[0]) * t, v[1] + (c[1] - v[1]) * t];
      if (contains(geom, p)) return p;
    }
  }
  return c;
}
