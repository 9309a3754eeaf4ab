// Launching one ffmpeg/ffprobe child, shared by the spawn helper process (this file run as a script) and by the
// direct path in spawn.ts (this file required). Plain JavaScript, so the helper starts without a TypeScript loader.
//
// The child's stdout goes to `stdout`: 'text' (collected here and returned in the exit record) or a socket that the
// caller reads at its other end. stderr is collected (first 64 KiB). With `progress`, ffmpeg's `-progress pipe:3`
// report is read from fd 3 and its last values returned: `frame=` (frames written to the output), `out_time_us=`
// (the output's end time) and whether `progress=end` (the end of the stream) was reached.
'use strict';
const { spawn } = require('node:child_process');
const { rmSync } = require('node:fs');
const { connect } = require('node:net');

const STDERR_LIMIT = 65536;

/** Runs `bin args`; calls `done(exit)` once, after the child exited and its collected streams closed. */
function launch(bin, args, opts, stdout, done) {
  const stdio = ['ignore', stdout === 'text' ? 'pipe' : stdout, 'pipe', ...(opts.progress ? ['pipe'] : [])];
  let child;
  try {
    child = spawn(bin, args, { stdio });
  } catch (e) {
    done({ code: null, signal: null, stdout: '', stderr: '', error: String((e && e.message) || e) });
    return undefined;
  }
  let out = '';
  let err = '';
  let error;
  const progress = { frames: NaN, seconds: NaN, complete: false };
  child.stderr.setEncoding('utf8').on('data', (s) => {
    if (err.length < STDERR_LIMIT) err += s;
  });
  if (stdout === 'text') child.stdout.setEncoding('utf8').on('data', (s) => (out += s));
  if (opts.progress) {
    let partial = '';
    child.stdio[3].setEncoding('utf8').on('data', (s) => {
      const lines = (partial + s).split('\n');
      partial = lines.pop();
      for (const line of lines) {
        const eq = line.indexOf('=');
        const key = line.slice(0, eq);
        const value = line.slice(eq + 1).trim();
        if (key === 'frame') progress.frames = Number(value);
        else if (key === 'out_time_us') progress.seconds = Number(value) / 1e6;
        else if (key === 'progress') progress.complete = value === 'end';
      }
    });
  }
  child.on('error', (e) => (error = e.message));
  // 'close' comes after the exit and after every stream this side collects has closed (also when spawning failed).
  child.on('close', (code, signal) => done({ code, signal, stdout: out, stderr: err, error, progress: opts.progress ? progress : undefined }));
  return child;
}

/**
 * The helper process: spawns children on request so that the main process never forks (see spawn.ts). For a byte
 * stream the main process listens on a Unix socket of its own; the helper connects to it and gives its end to the
 * child as stdout, then closes its own copy. The helper never reads from that socket, and nothing writes to the
 * helper's end, so every byte the child writes reaches the main process: no output can be lost in between.
 */
function serve(socketDir) {
  const calls = new Map();
  const send = (id, exit, connected) => {
    calls.delete(id);
    process.send({ id, ev: 'exit', connected, ...exit });
  };
  process.on('message', (m) => {
    if (m.op === 'kill') {
      const call = calls.get(m.id);
      if (call) {
        call.killed = true;
        if (call.child) call.child.kill('SIGKILL');
      }
      return;
    }
    const call = { child: undefined, killed: false };
    calls.set(m.id, call);
    if (m.stdout === 'text') {
      call.child = launch(m.bin, m.args, m, 'text', (e) => send(m.id, e, false));
      return;
    }
    const socket = connect(m.stdout);
    let connected = false;
    socket.on('error', (e) => {
      if (connected) return;
      send(m.id, { code: null, signal: null, stdout: '', stderr: '', error: `cannot reach ${m.stdout}: ${e.message}` }, false);
    });
    socket.on('connect', () => {
      connected = true;
      if (call.killed) {
        socket.destroy();
        send(m.id, { code: null, signal: 'SIGKILL', stdout: '', stderr: '' }, true);
        return;
      }
      call.child = launch(m.bin, m.args, m, socket, (e) => send(m.id, e, true));
      // destroy() closes this process's descriptor only (no shutdown), so the child's copy stays the sole writer.
      socket.destroy();
    });
  });
  process.on('disconnect', () => {
    for (const call of calls.values()) if (call.child) call.child.kill('SIGKILL');
    rmSync(socketDir, { recursive: true, force: true });
    process.exit(0);
  });
}

if (require.main === module) serve(process.argv[2]);
module.exports = { launch };
