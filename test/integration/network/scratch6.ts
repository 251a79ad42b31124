import { Session } from "node:inspector/promises";
import { writeFileSync } from "node:fs";
import { startHost, stopAll } from "./support.ts";
const a = await startHost([], {});
const bs = [];
for (let i = 0; i < 40; i++) bs.push(await startHost([], {}));
await new Promise((r) => setTimeout(r, 1500));
const session = new Session(); session.connect(); await session.post("Profiler.enable"); await session.post("Profiler.start");
const c0 = process.cpuUsage(); const t0 = Date.now();
for (const b of bs) { const t = performance.now(); await b.dial(a.getMultiaddrs()[0]!); if (bs.indexOf(b) % 10 === 0) console.log("dial ms", (performance.now() - t).toFixed(1)); }
await new Promise((r) => setTimeout(r, 3000));
const c = process.cpuUsage(c0);
console.log("40 dials: cpu ms", (c.user + c.system) / 1000, "wall", Date.now() - t0, "connection endpoints", [a, ...bs].reduce((n, h) => n + h.getConnections().length, 0), "streams", [a, ...bs].reduce((n, h) => n + h.getConnections().reduce((m, c) => m + c.streams.length, 0), 0));
const { profile } = await session.post("Profiler.stop"); writeFileSync("/tmp/netwk/conn.cpuprofile", JSON.stringify(profile));
await stopAll([a, ...bs]);
