// posekit's page: a photo, a video file or the webcam; people drawn over it on a canvas.
// Plain JavaScript, no build step, nothing from elsewhere. A photo goes to POST /v1/pose,
// video and webcam frames to the WebSocket /v1/stream (the server works on the newest
// frame and says which it dropped). window.posekitState holds what the page shows (tests
// read it).
"use strict";

const $ = (id) => document.getElementById(id);
const canvas = $("canvas"), ctx = canvas.getContext("2d"), video = $("video");
const grab = document.createElement("canvas");
const state = window.posekitState = {
  mode: "idle", frames: 0, dropped: 0, lastPeople: [], counts: [], ids: [], last: null,
  errors: [], photoDone: false, photoPeople: -1,
};
let skeleton = null, socket = null, stream = null, sent = new Map(), sentCount = 0;
let inFlight = 0, times = [], lastAnswer = null, drawLoop = 0, json = [];
const MAX_IN_FLIGHT = 2;

fetch("/v1/skeleton").then((r) => r.json()).then((s) => { skeleton = s; });
const hash = new URLSearchParams(location.hash.slice(1));
if (hash.get("token")) $("token").value = hash.get("token");

function status(text, bad) {
  $("status").textContent = text;
  $("status").classList.toggle("error", !!bad);
  if (bad) state.errors.push(text);
}

function options() {
  return { conf: Number($("conf").value) || 0, kpt_conf: Number($("kpt-conf").value) || 0 };
}

function authHeaders() {
  const token = $("token").value.trim();
  return token ? { Authorization: "Bearer " + token } : {};
}

function colorOf(id) {
  return `hsl(${(id * 67) % 360}, 90%, 55%)`;
}

// People over the canvas: limbs in the skeleton's colours, joints, box and "#id score".
function drawPeople(people, sx, sy) {
  if (!skeleton) return;
  const scale = Math.max(canvas.width, canvas.height) / 640;
  ctx.lineWidth = Math.max(2, 3 * scale);
  people.forEach((person, k) => {
    const points = skeleton.keypoints.map((name) => person.keypoints[name] || null);
    skeleton.limbs.forEach(([a, b], j) => {
      if (!points[a] || !points[b]) return;
      const c = skeleton.colors[j];
      ctx.strokeStyle = `rgb(${c[0]},${c[1]},${c[2]})`;
      ctx.beginPath();
      ctx.moveTo(points[a][0] * sx, points[a][1] * sy);
      ctx.lineTo(points[b][0] * sx, points[b][1] * sy);
      ctx.stroke();
    });
    ctx.fillStyle = "#fff";
    points.forEach((p) => {
      if (!p) return;
      ctx.beginPath();
      ctx.arc(p[0] * sx, p[1] * sy, 2.5 * scale, 0, 2 * Math.PI);
      ctx.fill();
    });
    const id = person.track_id === null ? k : person.track_id;
    const [x0, y0, x1, y1] = person.box;
    ctx.strokeStyle = colorOf(id);
    ctx.lineWidth = Math.max(1, 1.5 * scale);
    ctx.strokeRect(x0 * sx, y0 * sy, (x1 - x0) * sx, (y1 - y0) * sy);
    const label = (person.track_id === null ? "" : "#" + id + " ") + person.score.toFixed(2);
    ctx.font = `${Math.round(14 * scale)}px sans-serif`;
    const w = ctx.measureText(label).width + 6, h = 18 * scale;
    ctx.fillStyle = colorOf(id);
    ctx.fillRect(x0 * sx, Math.max(0, y0 * sy - h), w, h);
    ctx.fillStyle = "#000";
    ctx.fillText(label, x0 * sx + 3, Math.max(h, y0 * sy) - 4 * scale);
  });
}

function showStats(answer) {
  $("people").textContent = answer.people.length;
  const ids = answer.people.map((p) => p.track_id).filter((i) => i !== null);
  $("ids").textContent = ids.length ? ids.join(" ") : "-";
  $("dropped").textContent = state.dropped;
}

function offerJson(data) {
  const link = $("download");
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([JSON.stringify(data, null, 1)],
                                           { type: "application/json" }));
  link.classList.remove("disabled");
}

// --- a photo: one POST ----------------------------------------------------------------------
async function photo(file) {
  stop();
  state.mode = "photo";
  status("estimating " + file.name);
  const bitmap = await createImageBitmap(file);
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  ctx.drawImage(bitmap, 0, 0);
  const query = new URLSearchParams(options());
  const started = performance.now();
  let response;
  try {
    response = await fetch("/v1/pose?" + query, {
      method: "POST", body: file,
      headers: { "Content-Type": file.type || "application/octet-stream", ...authHeaders() },
    });
  } catch (e) {
    return status("the server cannot be reached: " + e, true);
  }
  const answer = await response.json();
  if (!response.ok) return status(answer.error || response.statusText, true);
  const latency = performance.now() - started;
  $("latency").textContent = latency.toFixed(0);
  $("fps").textContent = "-";
  drawPeople(answer.people, 1, 1);
  showStats(answer);
  state.last = answer;
  state.photoPeople = answer.people.length;
  state.photoDone = true;
  offerJson(answer);
  status(`${answer.people.length} people in ${file.name}`);
}

// --- video and webcam: the WebSocket stream -------------------------------------------------
function openSocket() {
  const url = new URL("/v1/stream", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  const token = $("token").value.trim();
  if (token) url.searchParams.set("token", token);
  socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => { socket.send(JSON.stringify(options())); status("streaming"); pump(); };
  socket.onclose = (e) => { if (state.mode !== "idle") status("stream closed: " + (e.reason || e.code), e.code !== 1000); };
  socket.onmessage = (e) => answer(JSON.parse(e.data));
}

function pump() {
  if (!socket || socket.readyState !== WebSocket.OPEN || inFlight >= MAX_IN_FLIGHT) return;
  if (!video.videoWidth || video.readyState < 2) { setTimeout(pump, 30); return; }
  grab.width = video.videoWidth;
  grab.height = video.videoHeight;
  grab.getContext("2d").drawImage(video, 0, 0);
  inFlight++;
  grab.toBlob((blob) => {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    sent.set(sentCount++, performance.now());
    socket.send(blob);
    pump();
  }, "image/jpeg", 0.85);
}

function answer(data) {
  if (data.frame === undefined) { status(data.error, true); return; }
  inFlight = Math.max(0, inFlight - 1 - data.dropped.length);
  const now = performance.now();
  for (const d of data.dropped) sent.delete(d);
  state.dropped += data.dropped.length;
  if (data.error) { status("frame " + data.frame + ": " + data.error, true); pump(); return; }
  const start = sent.get(data.frame);
  sent.delete(data.frame);
  if (start !== undefined) $("latency").textContent = (now - start).toFixed(0);
  times.push(now);
  while (times.length && now - times[0] > 2000) times.shift();
  if (times.length > 1) $("fps").textContent = ((times.length - 1) * 1000 / (now - times[0])).toFixed(1);
  lastAnswer = data;
  state.frames++;
  state.counts.push(data.people.length);
  for (const p of data.people) {   // null: a person without an id yet
    if (p.track_id !== null && !state.ids.includes(p.track_id)) state.ids.push(p.track_id);
  }
  state.last = data;
  json.push(data);
  if (json.length > 1000) json.shift();
  showStats(data);
  pump();
}

function draw() {
  if (video.videoWidth) {
    if (canvas.width !== video.videoWidth || canvas.height !== video.videoHeight) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
    }
    ctx.drawImage(video, 0, 0);
    if (lastAnswer) drawPeople(lastAnswer.people, canvas.width / lastAnswer.width,
                               canvas.height / lastAnswer.height);
  }
  drawLoop = requestAnimationFrame(draw);
}

async function startVideo(source, mode) {
  stop();
  state.mode = mode;
  json = [];
  if (source instanceof MediaStream) { stream = source; video.srcObject = source; }
  else { video.src = URL.createObjectURL(source); }
  await video.play();
  $("stop").disabled = false;
  draw();
  openSocket();
}

function stop() {
  if (state.mode === "stream" || state.mode === "webcam" || state.mode === "video") offerJson(json);
  state.mode = "idle";
  cancelAnimationFrame(drawLoop);
  if (socket) { socket.onclose = null; socket.close(1000); socket = null; }
  if (stream) { stream.getTracks().forEach((t) => t.stop()); stream = null; }
  video.pause();
  video.removeAttribute("src");
  video.srcObject = null;
  inFlight = 0;
  sent = new Map();
  sentCount = 0;
  lastAnswer = null;
  $("stop").disabled = true;
}

$("file").addEventListener("change", (e) => {
  const file = e.target.files[0];
  if (!file) return;
  if (file.type.startsWith("video/")) startVideo(file, "video").catch((err) => status(String(err), true));
  else photo(file).catch((err) => status(String(err), true));
});
$("webcam").addEventListener("click", async () => {
  try {
    startVideo(await navigator.mediaDevices.getUserMedia({ video: true, audio: false }), "webcam");
  } catch (e) {
    status("no webcam: " + e, true);
  }
});
$("stop").addEventListener("click", () => { stop(); status("stopped"); });
for (const id of ["conf", "kpt-conf"]) {
  $(id).addEventListener("change", () => {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(options()));
  });
}
