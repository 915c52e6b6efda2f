// A fixed-rate (open-loop) HTTP load generator: wrk (Debian's, not wrk2) only runs closed
// loops, whose latencies hide queueing. Requests are scheduled every 1/rate seconds whatever
// the server does; each one's latency counts from its scheduled time, so waiting for a free
// connection is part of it (no coordinated omission). Prints one JSON object.
//
//   node bench/loadgen.js '{"url": ..., "rate": 200, "seconds": 10, "connections": 16,
//                           "method": "GET", "headers": {...}, "body": null}'
// A request that gets no answer within 30 s of the last one being sent is never counted.
'use strict';
const http = require('node:http');

const spec = JSON.parse(process.argv[2]);
const url = new URL(spec.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: spec.connections || 16 });
const headers = { ...(spec.headers || {}) };
// body_template: "{n}" becomes version_base + the request's number and "{d}" that number
// modulo `devices`, so every sync report is a newer version of one of the devices.
function bodyFor(n) {
  if (spec.body_template) {
    return Buffer.from(spec.body_template.replaceAll('{n}', String(spec.version_base + n))
      .replaceAll('{d}', String(n % spec.devices)));
  }
  return spec.body == null ? null : Buffer.from(spec.body);
}
const latencies = [];
const statuses = {};
let errors = 0;
let sent = 0;
const interval = 1e9 / spec.rate; // ns
const total = Math.round(spec.rate * spec.seconds);
const start = process.hrtime.bigint();

function fire(scheduled, n) {
  const body = bodyFor(n);
  const request = http.request(
    { host: url.hostname, port: url.port, path: url.pathname + url.search, method: spec.method || 'GET',
      headers: body ? { ...headers, 'Content-Length': body.length } : headers, agent },
    (response) => {
      response.resume();
      response.on('end', () => {
        statuses[response.statusCode] = (statuses[response.statusCode] || 0) + 1;
        latencies.push(Number(process.hrtime.bigint() - scheduled) / 1e6);
        done();
      });
    },
  );
  request.on('error', () => { errors += 1; done(); });
  request.end(body);
}

let finished = 0;
function done() {
  finished += 1;
  if (finished === total) report();
}

function tick() {
  const now = process.hrtime.bigint();
  while (sent < total) {
    const scheduled = start + BigInt(Math.round(sent * interval));
    if (scheduled > now) break;
    sent += 1;
    fire(scheduled, sent);
  }
  if (sent < total) setTimeout(tick, 1); else setTimeout(report, 30000);
}

let reported = false;
function report() {
  if (reported) return;
  reported = true;
  latencies.sort((a, b) => a - b);
  const q = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : null);
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  process.stdout.write(JSON.stringify({
    rate: spec.rate, sent, completed: latencies.length, errors, statuses, seconds: elapsed,
    p50_ms: q(0.5), p90_ms: q(0.9), p99_ms: q(0.99), max_ms: latencies[latencies.length - 1] ?? null,
  }) + '\n');
  process.exit(0);
}

tick();
