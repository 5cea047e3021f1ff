// A scripted stand-in for the host's interfaces (tests only): `random` plays back the values
// a test puts in `host.draws` (BigInt, as componentize-js passes u64), `kv` is a Map, the
// other interfaces record or refuse.
export const host = { draws: [], drawn: 0, logs: [], store: new Map(), denyKv: false };

export function log(level, message) {
  host.logs.push([level, message]);
}

export function nextU64() {
  if (host.draws.length === 0) throw new Error('fake host: no scripted random value left');
  host.drawn += 1;
  return host.draws.shift();
}

export function fill(len) {
  return new Uint8Array(len);
}

function kvGuard() {
  if (host.denyKv) {
    const e = new Error('denied');
    e.payload = { tag: 'denied' };
    throw e;
  }
}

export function get(key) {
  kvGuard();
  return host.store.get(key);
}

export function set(key, value) {
  kvGuard();
  host.store.set(key, value);
}

function del(key) {
  kvGuard();
  host.store.delete(key);
}
export { del as delete };

export function keys(prefix, limit) {
  kvGuard();
  return [...host.store.keys()].filter((k) => k.startsWith(prefix)).sort().slice(0, limit);
}

export const netuid = () => 1;
export const block = () => 720n;
export const neurons = () => [];
export const getNeuron = () => undefined;

function notAvailable() {
  const e = new Error('not available');
  e.payload = { tag: 'not-available', val: 'no compute in tests' };
  throw e;
}
export const embedText = notAvailable;
export const embedImage = notAvailable;
export const generateText = notAvailable;
export const models = () => [];
