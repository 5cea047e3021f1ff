// Write a Bittensor subnet for subnetd in JavaScript.
//
// A subnet is a validator module and a miner module. Extend `Validator` (or `Miner`), export
// it once from the guest's `app.js` with
//     export const validatorApi = exportValidator(MyValidator);
// (or `export const minerApi = exportMiner(MyMiner);`), and `subnetd build` bundles the app
// with this SDK and turns it into a WebAssembly component with componentize-js. Tasks and
// answers are plain JavaScript values, encoded by a codec (`Json.any` by default).
//
// Randomness: `Math.random`, `crypto.getRandomValues` and `crypto.randomUUID` draw from the
// host's seeded `random` (see `installSeededRandomness`), so the same sandbox seed replays.
//
// Numbers: the contract's u64 values (block, epoch, seed, `random.nextU64()`) arrive as
// BigInt. `random.below(n)` draws with the same rejection sampling as the Rust SDK, in BigInt,
// and returns a Number when `n` is a Number, so a JS subnet draws exactly what a Rust one does.
//
// Async: `generateTasks`, `score` and `answer` may be `async` (return a Promise), to await
// `fetch` (outbound HTTP over `wasi:http`, only to the targets the operator listed; a refusal
// rejects as a network error, and the host's log names the rule) or anything
// else; the call returns once the Promise settles, and a rejection fails the call like a throw.
//
// Failure modes: throwing `SubnetError` (or anything else) from your code makes the call fail
// with its message; for anything but a SubnetError the SDK first prints the error's stack to
// stderr, which the host shows under `--- guest stderr ---` in its error. The host carries on.

import { log as hostLog } from 'subnet:plugin/log@0.1.2';
import { nextU64 as hostNextU64, fill as hostFill } from 'subnet:plugin/random@0.1.2';
import * as hostKv from 'subnet:plugin/kv@0.1.2';
import * as hostMetagraph from 'subnet:plugin/metagraph@0.1.2';
import * as hostCompute from 'subnet:plugin/compute@0.1.2';

/** Content type of JSON payloads. */
export const JSON_TYPE = 'application/json';
/** Content type of text payloads. */
export const TEXT_TYPE = 'text/plain; charset=utf-8';
/** Timeout of a task without one: 12 s, as the subnet template's default. */
export const DEFAULT_TIMEOUT_MS = 12_000;
/** The smoothing of `emaReward`, as the subnet template's `moving_average_alpha`. */
export const DEFAULT_ALPHA = 0.1;

const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;

/** An error your code reports on purpose: its message becomes the call's error. */
export class SubnetError extends Error {
  constructor(message) {
    super(message);
    this.name = 'SubnetError';
  }
}

/**
 * Stake above which a neuron with a validator permit counts as a validator, not a miner (the
 * subnet template's `vpermit_tao_limit`): on small subnets every staked neuron has a permit.
 */
export const VPERMIT_STAKE_LIMIT = 4096.0;

/**
 * Uids to send tasks to, in the context's order: every neuron except this validator and the
 * neurons that hold a validator permit with more than VPERMIT_STAKE_LIMIT stake, as the subnet
 * template's `check_uid_availability` (and the Rust SDK's `miners`).
 */
export function miners(ctx) {
  return ctx.neurons
    .filter((n) => n.uid !== ctx.validatorUid && !(n.validatorPermit && n.stake > VPERMIT_STAKE_LIMIT))
    .map((n) => n.uid);
}

// ------------------------------------------------------------------------------------------
// Codecs
// ------------------------------------------------------------------------------------------

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Values sent as JSON. `Json.any` accepts any JSON value; `Json.int` (safe integers only, as
 * serde's u64 would reject floats, booleans and strings), `Json.number`, `Json.string`,
 * `Json.bool`, `Json.array` and `Json.object` also check the decoded value's type;
 * `Json.of(check)` applies your own `check(value, text)`, which throws to reject a value.
 */
export class Json {
  constructor(check = (v) => v, name = 'any') {
    this.check = check;
    this.name = name;
  }

  static of(check, name = 'custom') {
    return new Json(check, name);
  }

  encode(value) {
    const text = JSON.stringify(value, (_, v) => {
      if (typeof v === 'bigint') {
        if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
        throw new SubnetError(`BigInt ${v} does not fit a JSON number exactly; send it as a string`);
      }
      if (typeof v === 'number' && !Number.isFinite(v)) {
        throw new SubnetError(`${v} is not a JSON number`);
      }
      return v;
    });
    if (text === undefined) throw new SubnetError(`${String(value)} has no JSON form`);
    return { contentType: JSON_TYPE, body: encoder.encode(text) };
  }

  decode(payload) {
    if (!payload.contentType.startsWith(JSON_TYPE)) {
      throw new Error(`expected ${JSON_TYPE}, got \`${payload.contentType}\``);
    }
    const text = decoder.decode(payload.body);
    return this.check(JSON.parse(text), text);
  }
}

function typed(name, ok) {
  return new Json((v) => {
    if (!ok(v)) throw new Error(`expected ${name}, got ${JSON.stringify(v)}`);
    return v;
  }, name);
}

Json.any = new Json();
// JSON.parse reads `2.0` as the integer 2; serde does not, so the text itself must be an
// integer literal for the SDKs to agree on what is malformed.
const INTEGER_TEXT = /^[ \t\n\r]*-?(0|[1-9][0-9]*)[ \t\n\r]*$/;
Json.int = new Json((v, text) => {
  if (!Number.isSafeInteger(v) || !INTEGER_TEXT.test(text)) {
    throw new Error(`expected an integer, got ${text}`);
  }
  return v;
}, 'an integer');
Json.number = typed('a number', (v) => typeof v === 'number');
Json.string = typed('a string', (v) => typeof v === 'string');
Json.bool = typed('a boolean', (v) => typeof v === 'boolean');
Json.array = typed('an array', (v) => Array.isArray(v));
Json.object = typed('an object', (v) => v !== null && typeof v === 'object' && !Array.isArray(v));

/** UTF-8 text payloads as strings. */
export const Text = {
  encode: (value) => ({ contentType: TEXT_TYPE, body: encoder.encode(String(value)) }),
  decode: (payload) => decoder.decode(payload.body),
};

/** Payloads as they are: `{ contentType, body: Uint8Array }` (images, any bytes). */
export const Raw = {
  encode: (value) => value,
  decode: (payload) => payload,
};

// ------------------------------------------------------------------------------------------
// Tasks, answers, scores
// ------------------------------------------------------------------------------------------

/** A task to send: its name (unique in the round), its miners, the task value, the timeout. */
export class TaskSpec {
  constructor(id, miners, task, timeoutMs = DEFAULT_TIMEOUT_MS) {
    this.id = String(id);
    this.miners = miners;
    this.task = task;
    this.timeoutMs = timeoutMs;
  }

  /** The same task with another timeout, in milliseconds. */
  withTimeout(timeoutMs) {
    this.timeoutMs = timeoutMs;
    return this;
  }
}

/**
 * One miner's answer, decoded: `status` is 'ok', 'timeout', 'refused', 'malformed' (the
 * answer did not decode) or 'failed'; `answer` is the decoded value when the status is 'ok'.
 */
export class Answer {
  constructor(uid, status, latencyMs, answer) {
    this.uid = uid;
    this.status = status;
    this.latencyMs = latencyMs;
    this.answer = answer;
  }

  /** Whether the miner gave a valid answer in time. */
  get ok() {
    return this.status === 'ok';
  }
}

/** A miner's score on one task, in [0, 1], with optional named metrics. */
export class Score {
  constructor(uid, score, metrics = []) {
    this.uid = uid;
    this.score = score;
    this.metrics = metrics;
  }

  /** Adds a named metric (e.g. `quality`, `speed`). */
  metric(name, value) {
    this.metrics.push({ name: String(name), value: Number(value) });
    return this;
  }
}

/**
 * The default reward: each uid's running score becomes `alpha * round + (1 - alpha) * old`
 * (a uid not scored this round keeps its score; a new uid is appended with `alpha * round`);
 * weights are the running scores. Same float operations and entry order as the Rust SDK's
 * `ema_reward`, so the same inputs give bit-identical weights.
 */
export function emaReward(state, round, alpha = DEFAULT_ALPHA) {
  const out = state.map((s) => ({ ...s }));
  const index = new Map();
  out.forEach((s, i) => {
    if (!index.has(s.uid)) index.set(s.uid, i);
  });
  for (const scored of round) {
    const value = Number.isFinite(scored.score) ? scored.score : 0.0;
    const i = index.get(scored.uid);
    if (i !== undefined) {
      const entry = out[i];
      entry.score = alpha * value + (1.0 - alpha) * entry.score;
      entry.rounds = Math.min(entry.rounds + 1, U32_MAX);
    } else {
      index.set(scored.uid, out.length);
      out.push({ uid: scored.uid, hotkey: '', score: alpha * value, rounds: 1 });
    }
  }
  const weights = out.map((s) => ({ uid: s.uid, value: s.score > 0 ? s.score : 0.0 }));
  return { state: out, weights };
}

// ------------------------------------------------------------------------------------------
// The author's classes
// ------------------------------------------------------------------------------------------

/**
 * A validator: set `taskCodec` and `answerCodec` (default `Json.any`), implement
 * `generateTasks(ctx)` returning TaskSpecs and `score(ctx, task, answers)` returning Scores;
 * `reward(ctx, state, round)` defaults to `emaReward` with `alpha` (0.1). A new instance is
 * made for every call, so keep state in `kv`.
 */
export class Validator {
  get taskCodec() {
    return Json.any;
  }
  get answerCodec() {
    return Json.any;
  }
  get alpha() {
    return DEFAULT_ALPHA;
  }
  generateTasks(_ctx) {
    throw new Error('Validator.generateTasks is not implemented');
  }
  score(_ctx, _task, _answers) {
    throw new Error('Validator.score is not implemented');
  }
  reward(_ctx, state, round) {
    return emaReward(state, round, this.alpha);
  }
}

/** A miner: set `taskCodec` and `answerCodec` and implement `answer(request, task)`. */
export class Miner {
  get taskCodec() {
    return Json.any;
  }
  get answerCodec() {
    return Json.any;
  }
  answer(_request, _task) {
    throw new Error('Miner.answer is not implemented');
  }
}

// ------------------------------------------------------------------------------------------
// Glue between the classes and the generated bindings
// ------------------------------------------------------------------------------------------

/** Whether `value` is a Promise (or another thenable) an author's method returned. */
function isThenable(value) {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof value.then === 'function';
}

/** `next(value)`, after `value` settles when it is a Promise: sync methods stay sync. */
function andThen(value, next) {
  return isThenable(value) ? Promise.resolve(value).then(next) : next(value);
}

/** The error string a call fails with (componentize-js turns a thrown string into `err`). */
function callError(call, e) {
  if (e instanceof SubnetError) return e.message || 'SubnetError';
  if (typeof e === 'string') return e;
  const name = e?.name ?? typeof e;
  const message = e?.message ?? String(e);
  console.error(e?.stack ? `${name}: ${message}\n${e.stack}` : `${name}: ${message}`);
  return `\`${call}\` raised ${name}: ${message}`;
}

/**
 * Runs an export's body; any failure becomes the call's error string, and an unexpected error
 * also prints its stack to stderr. A body that returns a Promise (an `async` method, one that
 * awaits `fetch`) gives a Promise: componentize-js runs the event loop until it settles and
 * the call returns its value, or fails with its rejection, exactly as the sync form would.
 */
function guarded(call, body) {
  let result;
  try {
    result = body();
  } catch (e) {
    throw callError(call, e);
  }
  if (isThenable(result)) {
    return Promise.resolve(result).catch((e) => {
      throw callError(call, e);
    });
  }
  return result;
}

function decodeAnswer(codec, r) {
  if (r.status === 'ok') {
    if (r.payload === undefined || r.payload === null) {
      return new Answer(r.uid, 'malformed', r.latencyMs, undefined);
    }
    try {
      return new Answer(r.uid, 'ok', r.latencyMs, codec.decode(r.payload));
    } catch {
      return new Answer(r.uid, 'malformed', r.latencyMs, undefined);
    }
  }
  return new Answer(r.uid, r.status, r.latencyMs, undefined);
}

function toUidScore(s) {
  if (!s || typeof s.uid !== 'number' || typeof s.score !== 'number') {
    throw new TypeError(`score must return Score values, got ${JSON.stringify(s)}`);
  }
  return {
    uid: s.uid,
    score: s.score,
    metrics: (s.metrics ?? []).map((m) => ({ name: String(m.name), value: Number(m.value) })),
  };
}

/** Exports a Validator subclass: `export const validatorApi = exportValidator(MyValidator);` */
export function exportValidator(cls) {
  if (typeof cls !== 'function' || !(cls.prototype instanceof Validator)) {
    throw new TypeError('exportValidator expects a subclass of Validator');
  }
  return {
    generateTasks(ctx) {
      return guarded('generate-tasks', () => {
        const v = new cls();
        return andThen(v.generateTasks(ctx), (specs) =>
          specs.map((spec) => ({
            id: String(spec.id),
            miners: [...spec.miners],
            payload: v.taskCodec.encode(spec.task),
            timeoutMs: spec.timeoutMs,
          })),
        );
      });
    },
    score(ctx, task, responses) {
      return guarded('score', () => {
        const v = new cls();
        let decoded;
        try {
          decoded = v.taskCodec.decode(task.payload);
        } catch (e) {
          throw new SubnetError(`task \`${task.id}\` does not decode: ${e?.message ?? e}`);
        }
        const answers = responses.map((r) => decodeAnswer(v.answerCodec, r));
        return andThen(v.score(ctx, decoded, answers), (scores) => scores.map(toUidScore));
      });
    },
    reward(ctx, state, round) {
      return guarded('reward', () => new cls().reward(ctx, state, round));
    },
  };
}

/** Exports a Miner subclass: `export const minerApi = exportMiner(MyMiner);` */
export function exportMiner(cls) {
  if (typeof cls !== 'function' || !(cls.prototype instanceof Miner)) {
    throw new TypeError('exportMiner expects a subclass of Miner');
  }
  return {
    handle(request) {
      return guarded('handle', () => {
        const m = new cls();
        let task;
        try {
          task = m.taskCodec.decode(request.payload);
        } catch (e) {
          throw new SubnetError(`bad task: ${e?.message ?? e}`);
        }
        return andThen(m.answer(request, task), (answer) => m.answerCodec.encode(answer));
      });
    },
  };
}

// ------------------------------------------------------------------------------------------
// Host capabilities
// ------------------------------------------------------------------------------------------

/** Log lines to the host, shown with the subnet and module names. */
export const log = {
  trace: (message) => hostLog('trace', String(message)),
  debug: (message) => hostLog('debug', String(message)),
  info: (message) => hostLog('info', String(message)),
  warn: (message) => hostLog('warn', String(message)),
  error: (message) => hostLog('error', String(message)),
};

/** Deterministic randomness seeded by the host: the same sandbox seed gives the same values. */
export const random = {
  /** 64 random bits, as a BigInt in [0, 2^64). */
  nextU64: () => BigInt.asUintN(64, BigInt(hostNextU64())),

  /**
   * A uniform value in [0, bound) (0 when bound is 0), without modulo bias: the Rust SDK's
   * rejection sampling, in BigInt. Returns a Number for a Number bound, a BigInt for a BigInt.
   */
  below(bound) {
    const asNumber = typeof bound === 'number';
    if (asNumber && (!Number.isSafeInteger(bound) || bound < 0)) {
      throw new RangeError(`bound must be a non-negative safe integer, got ${bound}`);
    }
    const b = BigInt(bound);
    if (b < 0n || b > U64_MAX) throw new RangeError(`bound must fit in 64 bits, got ${bound}`);
    if (b === 0n) return asNumber ? 0 : 0n;
    const zone = U64_MAX - (U64_MAX % b);
    for (;;) {
      const v = random.nextU64();
      if (v < zone) {
        const r = v % b;
        return asNumber ? Number(r) : r;
      }
    }
  },

  /** A uniform float in [0, 1). */
  unit: () => Number(random.nextU64() >> 11n) / 2 ** 53,

  /** `len` random bytes (at most 1 MiB per call). */
  bytes: (len) => hostFill(len),

  /** Shuffles an array in place (Fisher-Yates, the same draws as the Rust SDK). */
  shuffle(items) {
    for (let i = items.length - 1; i > 0; i--) {
      const j = random.below(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  },
};

/**
 * Routes the engine's own randomness through the host's seeded `random` in `global`:
 * `Math.random`, `crypto.getRandomValues` and `crypto.randomUUID` would otherwise draw fresh
 * entropy, and a subnet that uses them would not replay for one sandbox seed. The SDK does
 * this for the component's global object when it loads (not under node, whose test runner
 * keeps its own).
 */
export function installSeededRandomness(global) {
  global.Math.random = () => random.unit();
  const crypto = global.crypto;
  if (!crypto) return;
  const define = (name, value) => Object.defineProperty(crypto, name, { value, configurable: true, writable: true });
  define('getRandomValues', (array) => {
    const integer = ArrayBuffer.isView(array) && !(array instanceof DataView) && !/Float/.test(array.constructor.name);
    if (!integer) throw new TypeError('crypto.getRandomValues expects an integer typed array');
    if (array.byteLength > 65536) throw new RangeError('crypto.getRandomValues fills at most 65536 bytes per call');
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(random.bytes(array.byteLength));
    return array;
  });
  define('randomUUID', () => {
    const b = random.bytes(16);
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  });
}

if (!globalThis.process?.versions?.node) installSeededRandomness(globalThis);

/** A failed kv operation: `kind` is 'denied', 'too-large' or 'io'. */
export class KvError extends Error {
  constructor(kind, detail = '') {
    super(`kv ${kind}${detail ? `: ${detail}` : ''}`);
    this.name = 'KvError';
    this.kind = kind;
    this.detail = detail;
  }
}

function liftVariant(e, Err) {
  const p = e?.payload ?? e;
  if (p && typeof p === 'object' && typeof p.tag === 'string') {
    return new Err(p.tag, p.val === undefined ? '' : String(p.val));
  }
  return new Err(Err === KvError ? 'io' : 'failed', String(e?.message ?? e));
}

function kvCall(f) {
  try {
    return f();
  } catch (e) {
    throw liftVariant(e, KvError);
  }
}

const utf8 = new TextEncoder();

/** The subnet's key-value store, kept by the host across calls and restarts. */
export const kv = {
  /** Raw bytes under `key` (Uint8Array), or undefined. */
  get: (key) => kvCall(() => hostKv.get(key)),
  /** Stores raw bytes (a Uint8Array or a string, stored as UTF-8). */
  set: (key, value) => kvCall(() => hostKv.set(key, typeof value === 'string' ? utf8.encode(value) : value)),
  /** Removes a key. */
  delete: (key) => kvCall(() => hostKv.delete(key)),
  /** Keys that start with `prefix`, in byte order, at most `limit`. */
  keys: (prefix = '', limit = 1000) => kvCall(() => hostKv.keys(prefix, limit)),
  /** A JSON value under `key`; a missing key or a value that does not decode reads as undefined. */
  getJson(key) {
    const raw = kv.get(key);
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(decoder.decode(raw));
    } catch {
      return undefined;
    }
  },
  /** Stores a value as JSON. */
  setJson: (key, value) => kv.set(key, utf8.encode(JSON.stringify(value))),
};

/** The read-only metagraph, as the host last read it from the chain. */
export const metagraph = {
  netuid: () => hostMetagraph.netuid(),
  block: () => hostMetagraph.block(),
  neurons: () => hostMetagraph.neurons(),
  getNeuron: (uid) => hostMetagraph.getNeuron(uid),
};

/** A failed model call: `kind` is 'not-available', 'unknown-model', 'invalid-input', 'timeout' or 'failed'. */
export class ComputeError extends Error {
  constructor(kind, detail = '') {
    super(`compute ${kind}${detail ? `: ${detail}` : ''}`);
    this.name = 'ComputeError';
    this.kind = kind;
    this.detail = detail;
  }
}

function computeCall(f) {
  try {
    return f();
  } catch (e) {
    throw liftVariant(e, ComputeError);
  }
}

/** Model calls served by the host (embeddings, generation). */
export const compute = {
  embedText: (model, texts) => computeCall(() => hostCompute.embedText(model, texts)),
  embedImage: (model, images) => computeCall(() => hostCompute.embedImage(model, images)),
  models: () => hostCompute.models(),
  generateText: (model, prompt, maxTokens, seed) =>
    computeCall(() => hostCompute.generateText(model, prompt, maxTokens, BigInt(seed))),
  /** Cosine similarity of two vectors (0 when either is empty or zero). */
  cosine(a, b) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      dot += a[i] * b[i];
      na += a[i] * a[i];
      nb += b[i] * b[i];
    }
    return na === 0 || nb === 0 ? 0 : dot / (Math.sqrt(na) * Math.sqrt(nb));
  },
};
