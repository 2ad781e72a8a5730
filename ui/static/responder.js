// The map on a responder's page (/r/<token>, rendered by the server): the elevator, and where the
// phone is when its owner lets the page know, with the distance between. The page works without
// it: the buttons are plain forms and "Open in maps" hands over to the phone's map app.
"use strict";

(async () => {
  const box = document.getElementById("map");
  if (!box || !window.L) return;
  const at = [Number(box.dataset.lat), Number(box.dataset.lon)];
  if (!at.every(Number.isFinite)) return;
  box.hidden = false;
  const map = L.map(box, { zoomControl: true, attributionControl: true }).setView(at, 16);
  let base = null;
  try { base = (await (await fetch("/api/v1/version", { headers: { Accept: "application/json" } })).json()).base_map; } catch { /* no tiles then */ }
  if (base?.url) L.tileLayer(base.url, { attribution: base.attribution, maxZoom: 19 }).addTo(map);
  L.circleMarker(at, { radius: 10, color: "#fff", weight: 3, fillColor: "#b42318", fillOpacity: 1 })
    .bindTooltip(box.dataset.label, { permanent: true, direction: "top", offset: [0, -10] }).addTo(map);
  L.circle(at, { radius: 100, color: "#b42318", weight: 1, fillOpacity: 0.05, interactive: false }).addTo(map);
  // Where the phone is: only with its owner's leave (the browser asks), and only on this page.
  if (!navigator.geolocation) return;
  let you = null, line = null, fittedOnce = false;
  const note = document.createElement("p");
  note.className = "you";
  box.after(note);
  navigator.geolocation.watchPosition((pos) => {
    const p = [pos.coords.latitude, pos.coords.longitude];
    if (!you) {
      you = L.circleMarker(p, { radius: 8, color: "#fff", weight: 3, fillColor: "#2458d6", fillOpacity: 1 }).addTo(map);
      line = L.polyline([p, at], { color: "#2458d6", weight: 2, dashArray: "6 6" }).addTo(map);
    }
    you.setLatLng(p);
    line.setLatLngs([p, at]);
    const m = map.distance(p, at);
    note.textContent = `距电梯直线 ${m < 1000 ? Math.round(m) + " 米" : (m / 1000).toFixed(1) + " 公里"} · ${m < 1000 ? Math.round(m) + " m" : (m / 1000).toFixed(1) + " km"} away`;
    if (!fittedOnce) { map.fitBounds(L.latLngBounds([p, at]).pad(0.3), { maxZoom: 17 }); fittedOnce = true; }
  }, () => { /* refused or unavailable: the elevator alone */ }, { enableHighAccuracy: true, maximumAge: 10000 });
})();
