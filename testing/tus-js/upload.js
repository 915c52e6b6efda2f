// Uploads a file with tus-js-client, unmodified, and prints what happened as one JSON line:
//   {"status": "complete", "url": ..., "offset": N, "backupId": ...}
//   {"status": "aborted", "url": ..., "bytesSent": N}   (--stop-after)
//   {"status": "failed", "url": ..., "error": ...}      (exit status 1)
//
//   node upload.js --endpoint URL --file PATH --token JWT --chunk-size BYTES
//                  [--metadata key=value ...] [--stop-after BYTES] [--resume-url URL]
//
// --stop-after aborts the upload once the PATCH in flight has handed its connection the file's
// bytes up to BYTES: upload.abort() destroys the socket, a cut in the middle of that request.
// The bytes are counted on the socket, as onProgress (one event per 100 ms) mostly fires once a
// request has ended on loopback; `bytesSent` counts the request's headers too, so the server
// holds at most that many bytes.
// --resume-url continues an upload from where the server says it stands (a HEAD first), as
// the app does after a restart with the URL it kept.
'use strict'

const fs = require('node:fs')
const http = require('node:http')
const { parseArgs } = require('node:util')
const tus = require('tus-js-client')

const { values: args } = parseArgs({
  options: {
    endpoint: { type: 'string' },
    file: { type: 'string' },
    token: { type: 'string' },
    'chunk-size': { type: 'string' },
    metadata: { type: 'string', multiple: true, default: [] },
    'stop-after': { type: 'string' },
    'resume-url': { type: 'string' },
  },
})

for (const required of ['endpoint', 'file', 'token', 'chunk-size']) {
  if (args[required] === undefined) {
    console.error(`upload.js: --${required} is required`)
    process.exit(2)
  }
}

const stopAfter = args['stop-after'] === undefined ? null : Number(args['stop-after'])
const metadata = Object.fromEntries(
  args.metadata.map((pair) => {
    const separator = pair.indexOf('=')
    return [pair.slice(0, separator), pair.slice(separator + 1)]
  }),
)

let stopping = false

function stop(bytesSent) {
  stopping = true
  upload.abort().then(() => finish({ status: 'aborted', url: upload.url, bytesSent }))
}

// Polls the PATCH's socket (a fresh one per request: the agent does not keep connections)
// between the writes of its body until the bytes reach --stop-after or the body is all written.
function stopMidRequest(req) {
  const offset = Number(req.getHeader('Upload-Offset'))
  const watch = () => {
    const request = req.getUnderlyingObject()
    if (stopping || request?.writableFinished) return
    const written = request?.socket?.bytesWritten ?? 0
    if (offset + written >= stopAfter) {
      stop(offset + written)
    } else {
      setImmediate(watch)
    }
  }
  setImmediate(watch)
}

// Exits at once: Node's keep-alive agent would otherwise hold the process for seconds.
function finish(result, exitCode = 0) {
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(exitCode))
}

const upload = new tus.Upload(fs.createReadStream(args.file), {
  endpoint: args.endpoint,
  uploadUrl: args['resume-url'] ?? null,
  headers: { Authorization: `Bearer ${args.token}` },
  metadata,
  chunkSize: Number(args['chunk-size']),
  // The library's default retries stay on: a 423 or 409 while the server still finishes a
  // request that was cut is retried after a HEAD that says where to resume.
  ...(stopAfter !== null && {
    httpStack: new tus.DefaultHttpStack({ agent: new http.Agent({ keepAlive: false }) }),
    onBeforeRequest(req) {
      if (req.getMethod() === 'PATCH') stopMidRequest(req)
    },
  }),
  onSuccess({ lastResponse }) {
    finish({
      status: 'complete',
      url: upload.url,
      offset: Number(lastResponse.getHeader('Upload-Offset')),
      backupId: lastResponse.getHeader('Backup-Id') ?? null,
    })
  },
  onError(error) {
    finish({ status: 'failed', url: upload.url, error: String(error) }, 1)
  },
})

upload.start()
