#!/usr/bin/env node
// A pmr link agent written from docs/protocol.md alone: Node 20, no npm
// dependencies. It proves the document is enough to implement a client.
//
//   node client.mjs --vectors-only
//   node client.mjs --port 9615 --secret S... --public P... --name outside-1 [--hold]
//
// 1. Checks itself against shared/tests/data/ (key text forms, the signed
//    bytes and signature of the worked handshake): exit 2 on a mismatch.
// 2. Links to a real hub over its own websocket client (plain ws://):
//    hello -> auth -> welcome, a full snapshot, an event, its ack.
// 3. Opens a second connection with a forged signature: expects close 4401.
// 4. Prints one JSON summary line. With --hold, keeps the first session open
//    (answering pings) until stdin ends, then closes it with 1000.
//
// Options may also come from the environment: PMR_HUB_HOST, PMR_HUB_PORT,
// PMR_SECRET, PMR_PUBLIC, PMR_MACHINE_NAME, PMR_MACHINE_ID, PMR_VECTORS.

import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WAIT_MS = 10_000;

class Failure extends Error {}
const fail = (msg) => {
  throw new Failure(msg);
};
const expect = (cond, msg) => {
  if (!cond) fail(msg);
};

// ---------------------------------------------------------------- keys

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const PREFIX_PUBLIC = 15 << 3; // 'P'
const PREFIX_SECRET = 18 << 3; // 'S'

/** CRC-16/XMODEM: polynomial 0x1021, initial 0, no reflection. */
export function crc16xmodem(bytes) {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

function base32Decode(text) {
  const out = [];
  let acc = 0;
  let bits = 0;
  for (const c of text) {
    const v = ALPHABET.indexOf(c);
    if (v < 0) fail(`character ${JSON.stringify(c)} cannot appear in a key`);
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** The 32 key bytes of a text-form key, checked: length, alphabet, CRC, prefix. */
export function decodeKey(text, prefix) {
  text = text.trim();
  expect(text.length === 56, `a key is 56 characters, this one has ${text.length}`);
  const raw = base32Decode(text);
  expect(raw.length === 35, "a key decodes to 35 bytes");
  const body = raw.subarray(0, 33);
  expect(crc16xmodem(body) === raw.readUInt16LE(33), "the key's checksum does not match");
  expect(body[0] === prefix, `wrong kind of key (prefix byte ${body[0]})`);
  return Buffer.from(body.subarray(1));
}

const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");

/** An ed25519 private key object from a 32-byte seed, and its raw public key. */
export function keyFromSeed(seed) {
  const privateKey = crypto.createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519, seed]),
    format: "der",
    type: "pkcs8",
  });
  const jwk = crypto.createPublicKey(privateKey).export({ format: "jwk" });
  return { privateKey, publicRaw: Buffer.from(jwk.x, "base64url") };
}

// ---------------------------------------------------------- handshake

function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function i64(n) {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(n));
  return b;
}

/** The signed fields in order, each [name, value bytes]. */
export function signedFields(f) {
  return [
    ["domain", Buffer.from("pmr-link-auth-v1")],
    ["hub_id", Buffer.from(f.hub_id, "utf8")],
    ["nonce", f.nonce],
    ["proto", u32(f.proto)],
    ["public_key", Buffer.from(f.public_key, "utf8")],
    ["machine_id", Buffer.from(f.machine_id, "utf8")],
    ["machine_name", Buffer.from(f.machine_name, "utf8")],
    ["agent_version", Buffer.from(f.agent_version, "utf8")],
    ["ts", i64(f.ts)],
  ];
}

/** Every field prefixed with its length as u32 big-endian. */
export function signedBytes(f) {
  return Buffer.concat(signedFields(f).flatMap(([, v]) => [u32(v.length), v]));
}

export function sign(privateKey, bytes) {
  return crypto.sign(null, bytes, privateKey);
}

/** The auth message, fields in the documented order. */
export function authMessage(f, sig) {
  return {
    type: "auth",
    proto: f.proto,
    public_key: f.public_key,
    machine_id: f.machine_id,
    machine_name: f.machine_name,
    agent_version: f.agent_version,
    ts: f.ts,
    nonce: f.nonce.toString("hex"),
    sig: sig.toString("hex"),
  };
}

// ------------------------------------------------------------ vectors

/** Checks this implementation against shared/tests/data; throws on a mismatch. */
export function checkVectors(dir) {
  const read = (name) => fs.readFileSync(path.join(dir, name), "utf8");
  const v = JSON.parse(read("handshake_7.json"));
  const [txtSigned, txtSig] = read("handshake_7.txt").trim().split("\n");
  const secretText = read("secret_key_7.txt").trim();
  const publicText = read("public_key_7.txt").trim();
  expect(v.secret_key === secretText, "handshake_7.json and secret_key_7.txt disagree");
  expect(v.public_key === publicText, "handshake_7.json and public_key_7.txt disagree");
  expect(v.signed_bytes_hex === txtSigned, "handshake_7.json and handshake_7.txt disagree (bytes)");
  expect(v.signature_hex === txtSig, "handshake_7.json and handshake_7.txt disagree (signature)");

  const seed = decodeKey(secretText, PREFIX_SECRET);
  expect(seed.toString("hex") === v.seed_hex, "the secret key text does not decode to the seed");
  const pub = decodeKey(publicText, PREFIX_PUBLIC);
  expect(pub.toString("hex") === v.public_key_hex, "the public key text does not decode");
  const { privateKey, publicRaw } = keyFromSeed(seed);
  expect(publicRaw.equals(pub), "the seed does not derive the public key");

  const hello = JSON.parse(v.hello_json);
  expect(hello.type === "hello" && hello.hub_id === v.hub_id, "hello_json");
  expect(hello.nonce === v.nonce_hex, "hello_json nonce");
  const f = {
    hub_id: v.hub_id,
    nonce: Buffer.from(v.nonce_hex, "hex"),
    proto: v.proto,
    public_key: publicText,
    machine_id: v.machine_id,
    machine_name: v.machine_name,
    agent_version: v.agent_version,
    ts: v.ts,
  };
  const fields = signedFields(f);
  expect(fields.length === v.signed_fields.length, "number of signed fields");
  fields.forEach(([name, value], i) => {
    const want = v.signed_fields[i];
    expect(want.field === name, `signed field ${i + 1}: ${want.field}, not ${name}`);
    expect(u32(value.length).toString("hex") === want.length_hex, `length prefix of ${name}`);
    expect(value.toString("hex") === want.value_hex, `value of ${name}`);
  });
  const bytes = signedBytes(f);
  expect(bytes.toString("hex") === v.signed_bytes_hex, "signed bytes differ from the vector");
  const sig = sign(privateKey, bytes);
  expect(sig.toString("hex") === v.signature_hex, "signature differs from the vector");
  expect(JSON.stringify(authMessage(f, sig)) === v.auth_json, "auth JSON differs from the vector");
  return { signed_bytes: bytes.length, signature: sig.toString("hex").slice(0, 16) };
}

// ---------------------------------------------------------- websocket

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** A minimal RFC 6455 client: text frames out, text/close/ping in. */
export class Ws {
  constructor(socket, rest) {
    this.socket = socket;
    this.buf = rest;
    this.events = [];
    this.waiters = [];
    this.fragments = null;
    this.closed = false;
    socket.on("data", (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
    });
    socket.on("close", () => this.push({ type: "end" }));
    socket.on("error", (e) => this.push({ type: "end", error: e.message }));
    this.parse();
  }

  static connect(host, port, urlPath) {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const key = crypto.randomBytes(16).toString("base64");
      let head = Buffer.alloc(0);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Failure("no answer to the upgrade"));
      }, WAIT_MS);
      socket.once("error", (e) => {
        clearTimeout(timer);
        reject(new Failure(`cannot connect: ${e.message}`));
      });
      socket.on("connect", () => {
        socket.write(
          `GET ${urlPath} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: Upgrade\r\n` +
            `Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`,
        );
      });
      const onData = (d) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        socket.off("data", onData);
        clearTimeout(timer);
        const lines = head.subarray(0, end).toString("latin1").split("\r\n");
        const status = Number(lines[0].split(" ")[1]);
        const headers = {};
        for (const l of lines.slice(1)) {
          const i = l.indexOf(":");
          headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        const rest = head.subarray(end + 4);
        if (status !== 101) {
          socket.destroy();
          resolve({ status, headers, body: rest.toString("utf8") });
          return;
        }
        const accept = crypto.createHash("sha1").update(key + GUID).digest("base64");
        if (headers["sec-websocket-accept"] !== accept) {
          socket.destroy();
          reject(new Failure("wrong Sec-WebSocket-Accept"));
          return;
        }
        resolve({ status, ws: new Ws(socket, rest) });
      };
      socket.on("data", onData);
    });
  }

  push(ev) {
    if (ev.type === "end" && this.ended) return;
    if (ev.type === "end") this.ended = true;
    const w = this.waiters.shift();
    if (w) w(ev);
    else this.events.push(ev);
  }

  /** The next text message, close or end; a Failure after `ms`. */
  next(ms = WAIT_MS) {
    if (this.events.length) return Promise.resolve(this.events.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Failure("timed out waiting for the hub"));
      }, ms);
      const done = (ev) => {
        clearTimeout(timer);
        resolve(ev);
      };
      this.waiters.push(done);
    });
  }

  parse() {
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = (b[0] & 0x80) !== 0;
      const opcode = b[0] & 0x0f;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      let mask = null;
      if (masked) {
        if (b.length < at + 4) return;
        mask = b.subarray(at, at + 4);
        at += 4;
      }
      if (b.length < at + len) return;
      const payload = Buffer.from(b.subarray(at, at + len));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
      this.buf = b.subarray(at + len);
      this.frame(fin, opcode, payload);
    }
  }

  frame(fin, opcode, payload) {
    switch (opcode) {
      case 0x0: // continuation
      case 0x1: // text
      case 0x2: {
        // binary (never sent by the hub; kept as text for the report)
        this.fragments = opcode === 0 ? [...(this.fragments ?? []), payload] : [payload];
        if (fin) {
          const text = Buffer.concat(this.fragments).toString("utf8");
          this.fragments = null;
          this.push({ type: "text", data: text });
        }
        break;
      }
      case 0x8: {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        const reason = payload.subarray(2).toString("utf8");
        if (!this.closed) {
          // Echo the close, as RFC 6455 asks, then let the hub end TCP.
          this.closed = true;
          this.send(0x8, payload.length >= 2 ? payload.subarray(0, 2) : Buffer.alloc(0));
        }
        this.push({ type: "close", code, reason });
        setTimeout(() => this.socket.destroy(), 1000).unref();
        break;
      }
      case 0x9:
        this.send(0xa, payload); // pong with the same payload
        break;
      default: // 0xA pong, or anything else: nothing to do
    }
  }

  /** One masked frame with FIN set. */
  send(opcode, payload) {
    if (this.socket.destroyed) return;
    const len = payload.length;
    const head = [0x80 | opcode];
    if (len < 126) head.push(0x80 | len);
    else if (len < 65536) head.push(0x80 | 126, len >> 8, len & 0xff);
    else {
      head.push(0x80 | 127);
      const l = Buffer.alloc(8);
      l.writeBigUInt64BE(BigInt(len));
      head.push(...l);
    }
    const mask = crypto.randomBytes(4);
    const body = Buffer.from(payload);
    for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
    this.socket.write(Buffer.concat([Buffer.from(head), mask, body]));
  }

  sendJson(obj) {
    this.send(0x1, Buffer.from(JSON.stringify(obj), "utf8"));
  }

  close(code, reason = "") {
    this.closed = true;
    this.send(0x8, Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]));
  }

  /** The next text message parsed as JSON; a close or end is a Failure. */
  async nextJson(what, ms) {
    const ev = await this.next(ms);
    if (ev.type === "close") fail(`waiting for ${what}: closed with ${ev.code} ${ev.reason}`);
    if (ev.type === "end") fail(`waiting for ${what}: the connection ended`);
    return JSON.parse(ev.data);
  }

  /** The close frame the hub ends with: { code, reason }. */
  async closedWith(ms) {
    for (;;) {
      const ev = await this.next(ms);
      if (ev.type === "close") return { code: ev.code, reason: ev.reason };
      if (ev.type === "end") return { code: 0, reason: "ended without a close frame" };
    }
  }
}

// ------------------------------------------------------------- agent

/** Connects, answers hello; `forge` flips a bit of the signature. */
async function handshake(opts, key, machineId, forge) {
  const up = await Ws.connect(opts.host, opts.port, "/agent/v1");
  expect(up.status === 101, `upgrade answered ${up.status}: ${up.body}`);
  const ws = up.ws;
  const hello = await ws.nextJson("hello");
  expect(hello.type === "hello", `first message is ${hello.type}, not hello`);
  expect(hello.proto === 1, `hub speaks protocol ${hello.proto}`);
  expect(/^[0-9a-f]{64}$/.test(hello.nonce), "hello.nonce is not 64 lower-case hex digits");
  const f = {
    hub_id: hello.hub_id,
    nonce: Buffer.from(hello.nonce, "hex"),
    proto: 1,
    public_key: opts.public,
    machine_id: machineId,
    machine_name: opts.name,
    agent_version: "outside-0.1.0",
    ts: Date.now(),
  };
  const sig = sign(key.privateKey, signedBytes(f));
  if (forge) sig[0] ^= 0x01;
  ws.sendJson(authMessage(f, sig));
  return { ws, hello };
}

function snapshot(seq) {
  return {
    type: "snapshot",
    seq,
    full: true,
    at: Date.now(),
    host: {
      hostname: "outside-host",
      cpus: 2,
      cpu: 12.5,
      mem_total: 8_000_000_000,
      mem_used: 2_000_000_000,
      load: [0.5, 0.4, 0.3],
      disk_total: 100_000_000_000,
      disk_used: 40_000_000_000,
      uptime: 86_400,
    },
    processes: [
      {
        pm_id: 0,
        name: "outside-api",
        namespace: "default",
        status: "online",
        pid: 4242,
        restart_time: 1,
        unstable_restarts: 0,
        pm_uptime: Date.now() - 10_000,
        cpu: 3.5,
        memory: 52_428_800,
        exec_mode: "fork_mode",
        metrics: { "req/min": 120, heap: "12 MiB" },
        versioning: { type: "git", revision: "0123456789abcdef0123456789abcdef01234567", branch: "main" },
      },
    ],
  };
}

function parseArgs(argv) {
  const env = process.env;
  const o = {
    host: env.PMR_HUB_HOST ?? "127.0.0.1",
    port: env.PMR_HUB_PORT ? Number(env.PMR_HUB_PORT) : undefined,
    secret: env.PMR_SECRET,
    public: env.PMR_PUBLIC,
    name: env.PMR_MACHINE_NAME ?? "outside-1",
    machineId: env.PMR_MACHINE_ID ?? `outside-${crypto.randomBytes(8).toString("hex")}`,
    vectors: env.PMR_VECTORS ?? path.resolve(HERE, "../../../shared/tests/data"),
    hold: false,
    vectorsOnly: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === "--host") o.host = val();
    else if (a === "--port") o.port = Number(val());
    else if (a === "--secret") o.secret = val();
    else if (a === "--public") o.public = val();
    else if (a === "--name") o.name = val();
    else if (a === "--machine-id") o.machineId = val();
    else if (a === "--vectors") o.vectors = val();
    else if (a === "--hold") o.hold = true;
    else if (a === "--vectors-only") o.vectorsOnly = true;
    else fail(`unknown argument ${a}`);
  }
  return o;
}

function stdinEnded() {
  return new Promise((resolve) => {
    process.stdin.on("end", resolve);
    process.stdin.on("close", resolve);
    process.stdin.resume();
  });
}

export async function main(argv) {
  const opts = parseArgs(argv);
  const summary = { ok: false };
  try {
    summary.vectors = checkVectors(opts.vectors);
  } catch (e) {
    console.log(JSON.stringify({ ok: false, stage: "vectors", error: e.message }));
    return 2;
  }
  if (opts.vectorsOnly) {
    console.log(JSON.stringify({ ok: true, vectors: summary.vectors }));
    return 0;
  }
  expect(Number.isInteger(opts.port) && opts.port > 0, "--port PORT is required");
  expect(opts.secret && opts.public, "--secret and --public are required");
  const key = keyFromSeed(decodeKey(opts.secret, PREFIX_SECRET));
  expect(
    key.publicRaw.equals(decodeKey(opts.public, PREFIX_PUBLIC)),
    "the secret key does not derive the public key",
  );

  // The real session.
  const { ws, hello } = await handshake(opts, key, opts.machineId, false);
  const welcome = await ws.nextJson("welcome");
  expect(welcome.type === "welcome", `expected welcome, got ${JSON.stringify(welcome)}`);
  expect(typeof welcome.session_id === "string", "welcome.session_id");
  expect(Number.isInteger(welcome.resume?.events), "welcome.resume.events");
  ws.sendJson(snapshot(1));
  const seq = welcome.resume.events + 1;
  ws.sendJson({
    type: "event",
    seq,
    at: Date.now(),
    kind: "exit",
    pm_id: 0,
    name: "outside-api",
    code: 1,
    signal: null,
    detail: "first line\nsecond line",
  });
  const ack = await ws.nextJson("ack");
  expect(ack.type === "ack" && ack.stream === "events", `expected an events ack, got ${JSON.stringify(ack)}`);
  expect(ack.seq === seq, `ack names seq ${ack.seq}, not ${seq}`);

  // A forged signature on another connection, while the first stays open.
  const forged = await handshake(opts, key, `${opts.machineId}-forged`, true);
  const refused = await forged.ws.closedWith();
  expect(refused.code === 4401, `a forged signature was closed with ${refused.code} ${refused.reason}`);

  Object.assign(summary, {
    ok: true,
    hub_id: hello.hub_id,
    machine_id: opts.machineId,
    name: opts.name,
    resume: welcome.resume,
    ack: { stream: ack.stream, seq: ack.seq },
    forged: refused,
  });
  console.log(JSON.stringify(summary));

  if (opts.hold) await stdinEnded();
  ws.close(1000, "bye");
  const end = await ws.closedWith(5_000).catch(() => ({ code: -1 }));
  ws.socket.destroy();
  if (opts.hold) console.log(JSON.stringify({ closed: true, echo: end.code }));
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.log(JSON.stringify({ ok: false, error: e instanceof Failure ? e.message : String(e.stack ?? e) }));
      process.exit(1);
    },
  );
}
