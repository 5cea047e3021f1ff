// Unit tests of subnet-sdk.js in plain node (`npm test` in sdk/js, or
// `node --test sdk/js/test/sdk.test.mjs`), against the scripted host of fake-host.mjs. The examples
// themselves are built and run in the sandbox by the host's test suite.
import assert from 'node:assert/strict';
import { register } from 'node:module';
import { test } from 'node:test';

register('./host-loader.mjs', import.meta.url);
const sdk = await import('../subnet-sdk.js');
const { host } = await import('./fake-host.mjs');

const U64_MAX = (1n << 64n) - 1n;
const enc = new TextEncoder();
const json = (text, contentType = sdk.JSON_TYPE) => ({ contentType, body: enc.encode(text) });
const bits = (x) => {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x, true);
  return view.getBigUint64(0, true);
};
const neuron = (uid, validatorPermit = false, stake = 1.0) => ({
  uid, hotkey: `hk${uid}`, stake, validatorPermit, active: true, incentive: 0, dividends: 0, emission: 0,
});
const context = (neurons, validatorUid = 0) => ({ netuid: 1, block: 720n, epoch: 2n, seed: 7n, validatorUid, neurons });
const script = (values) => {
  host.draws = [...values];
  host.drawn = 0;
};
const quietly = (f) => {
  const lines = [];
  const original = console.error;
  console.error = (...args) => lines.push(args.join(' '));
  try {
    return [f(), lines];
  } catch (e) {
    return [e, lines];
  } finally {
    console.error = original;
  }
};

test('random.below rejects the biased zone exactly like the Rust SDK', () => {
  const bound = 1_000_000n;
  const zone = U64_MAX - (U64_MAX % bound);
  script([zone, U64_MAX, zone - 1n]);
  assert.equal(sdk.random.below(1_000_000), Number((zone - 1n) % bound));
  assert.equal(host.drawn, 3);
  script([12345678901234567890n]);
  assert.equal(sdk.random.below(10n ** 18n), 12345678901234567890n % 10n ** 18n);
  script([]);
  assert.equal(sdk.random.below(0), 0);
  assert.throws(() => sdk.random.below(2 ** 60), RangeError);
});

test('random.unit and shuffle use the same draws as the Rust SDK', () => {
  script([U64_MAX, 0n]);
  assert.equal(sdk.random.unit(), (2 ** 53 - 1) / 2 ** 53);
  assert.equal(sdk.random.unit(), 0);
  script([2n, 0n]);
  assert.deepEqual(sdk.random.shuffle(['a', 'b', 'c']), ['b', 'a', 'c']);
});

test('emaReward matches the Rust SDK bit for bit', () => {
  // Golden vector: the Rust SDK's ema_reward (examples/hello-subnet) on the same input.
  const state = [
    { uid: 4, hotkey: 'hk4', score: 0.37, rounds: 3 },
    { uid: 1, hotkey: 'hk1', score: 0.123456789, rounds: 0xffffffff },
    { uid: 9, hotkey: 'hk9', score: -0.5, rounds: 1 },
  ];
  const round = [
    { uid: 1, score: 1.0, metrics: [] },
    { uid: 2, score: 0.3, metrics: [] },
    { uid: 4, score: NaN, metrics: [] },
    { uid: 5, score: 0.7, metrics: [] },
  ];
  const result = sdk.emaReward(state, round, 0.1);
  assert.deepEqual(
    result.state.map((s) => [s.uid, s.hotkey, bits(s.score), s.rounds]),
    [
      [4, 'hk4', 4599670414621563421n, 4],
      [1, 'hk1', 4596774099624776478n, 0xffffffff],
      [9, 'hk9', 13826050856027422720n, 1],
      [2, '', 4584304132692975288n, 1],
      [5, '', 4589708452245819883n, 1],
    ],
  );
  assert.deepEqual(
    result.weights.map((w) => [w.uid, bits(w.value)]),
    [[4, 4599670414621563421n], [1, 4596774099624776478n], [9, 0n], [2, 4584304132692975288n], [5, 4589708452245819883n]],
  );
  assert.equal(state[0].score, 0.37, 'the input state is not modified');
});

test('Json.int takes integer literals only, as serde does', () => {
  assert.equal(sdk.Json.int.decode(json(' 123 \n')), 123);
  for (const bad of ['2.0', '1e3', 'true', '"1"', '[1]', 'abc', '9007199254740993']) {
    assert.throws(() => sdk.Json.int.decode(json(bad)), undefined, bad);
  }
  assert.throws(() => sdk.Json.int.decode(json('1', 'text/plain')));
});

test('Json encodes BigInt exactly or refuses it', () => {
  assert.equal(new TextDecoder().decode(sdk.Json.any.encode({ n: 5n }).body), '{"n":5}');
  assert.throws(() => sdk.Json.any.encode(2n ** 60n), sdk.SubnetError);
  assert.throws(() => sdk.Json.any.encode(NaN), sdk.SubnetError);
});

class Doubling extends sdk.Validator {
  taskCodec = sdk.Json.int;
  answerCodec = sdk.Json.int;
  generateTasks(ctx) {
    return sdk.miners(ctx).map((uid) => new sdk.TaskSpec(`double-${uid}`, [uid], sdk.random.below(100), 2_000));
  }
  score(_ctx, task, answers) {
    Doubling.seen = answers.map((a) => [a.uid, a.status, a.answer]);
    return answers.map((a) => new sdk.Score(a.uid, a.ok && a.answer === task * 2 ? 1 : 0).metric('latency', a.latencyMs));
  }
}

test('miners skip this validator and permits above the stake limit', () => {
  const ctx = context([neuron(0, true), neuron(1), neuron(2, true, 10), neuron(3, true, 5000), neuron(4)]);
  assert.deepEqual(sdk.miners(ctx), [1, 2, 4]);
  assert.deepEqual(sdk.miners({ ...ctx, validatorUid: undefined }), [0, 1, 2, 4]);
});

test('generateTasks encodes each task', () => {
  script([41n, 42n]);
  const tasks = sdk.exportValidator(Doubling).generateTasks(context([neuron(0, true), neuron(1), neuron(2)]));
  assert.deepEqual(
    tasks.map((t) => [t.id, t.miners, new TextDecoder().decode(t.payload.body), t.timeoutMs]),
    [['double-1', [1], '41', 2000], ['double-2', [2], '42', 2000]],
  );
});

test('score decodes answers and marks bad ones malformed', () => {
  const responses = [
    { uid: 1, status: 'ok', latencyMs: 5, payload: json('10') },
    { uid: 2, status: 'ok', latencyMs: 6, payload: json('10.0') },
    { uid: 3, status: 'ok', latencyMs: 7, payload: undefined },
    { uid: 4, status: 'timeout', latencyMs: 2000, payload: undefined },
    { uid: 5, status: 'ok', latencyMs: 8, payload: json('11') },
  ];
  const task = { id: 'double-1', miners: [1], payload: json('5'), timeoutMs: 2000 };
  const scores = sdk.exportValidator(Doubling).score(context([]), task, responses);
  assert.deepEqual(Doubling.seen, [
    [1, 'ok', 10], [2, 'malformed', undefined], [3, 'malformed', undefined], [4, 'timeout', undefined], [5, 'ok', 11],
  ]);
  assert.deepEqual(scores.map((s) => [s.uid, s.score]), [[1, 1], [2, 0], [3, 0], [4, 0], [5, 0]]);
  assert.deepEqual(scores[0].metrics, [{ name: 'latency', value: 5 }]);
});

test('an error becomes the call error and its stack goes to stderr', () => {
  class Broken extends Doubling {
    generateTasks() {
      return undefined.field;
    }
  }
  const [thrown, lines] = quietly(() => sdk.exportValidator(Broken).generateTasks(context([])));
  assert.equal(typeof thrown, 'string', 'componentize-js maps a thrown string to err');
  assert.match(thrown, /^`generate-tasks` raised TypeError: /);
  assert.match(lines.join('\n'), /generateTasks/);
});

test('SubnetError is the message alone, without a stack', () => {
  class Refusing extends Doubling {
    generateTasks() {
      throw new sdk.SubnetError('no miners yet');
    }
  }
  const [thrown, lines] = quietly(() => sdk.exportValidator(Refusing).generateTasks(context([])));
  assert.equal(thrown, 'no miners yet');
  assert.deepEqual(lines, []);
});

test('a task that does not decode fails score', () => {
  const task = { id: 'bad', miners: [1], payload: json('x'), timeoutMs: 1 };
  const [thrown] = quietly(() => sdk.exportValidator(Doubling).score(context([]), task, []));
  assert.match(thrown, /^task `bad` does not decode/);
});

test('the default reward is the EMA', () => {
  const result = sdk.exportValidator(Doubling).reward(context([]), [], [{ uid: 3, score: 1, metrics: [] }]);
  assert.deepEqual(result.state, [{ uid: 3, hotkey: '', score: 0.1, rounds: 1 }]);
});

test('exportMiner encodes the answer and rejects bad tasks', () => {
  class Doubler extends sdk.Miner {
    taskCodec = sdk.Json.int;
    answerCodec = sdk.Json.int;
    answer(_request, task) {
      return task * 2;
    }
  }
  const api = sdk.exportMiner(Doubler);
  const request = { taskId: 't', netuid: 1, validator: 'v', payload: json('21'), timeoutMs: 1 };
  const answer = api.handle(request);
  assert.equal(answer.contentType, sdk.JSON_TYPE);
  assert.equal(new TextDecoder().decode(answer.body), '42');
  const [thrown] = quietly(() => api.handle({ ...request, payload: json('"21"') }));
  assert.match(thrown, /^bad task:/);
  assert.throws(() => sdk.exportMiner(Doubling), TypeError);
});

test('kv maps host errors to KvError and stores JSON', () => {
  host.denyKv = false;
  sdk.kv.setJson('a', { x: 1 });
  assert.deepEqual(sdk.kv.getJson('a'), { x: 1 });
  assert.equal(sdk.kv.getJson('missing'), undefined);
  host.denyKv = true;
  assert.throws(() => sdk.kv.get('a'), (e) => e instanceof sdk.KvError && e.kind === 'denied');
  host.denyKv = false;
  assert.throws(() => sdk.compute.embedText('m', ['x']), (e) => e instanceof sdk.ComputeError && e.kind === 'not-available');
});

test('async methods are awaited and their rejections become the call error', async () => {
  class Later extends sdk.Miner {
    taskCodec = sdk.Json.int;
    answerCodec = sdk.Json.int;
    async answer(_request, task) {
      await null;
      if (task < 0) throw new sdk.SubnetError('no negatives');
      return task * 2;
    }
  }
  const api = sdk.exportMiner(Later);
  const request = { taskId: 't', netuid: 1, validator: 'v', payload: json('21'), timeoutMs: 1 };
  const answer = await api.handle(request);
  assert.equal(new TextDecoder().decode(answer.body), '42');
  await assert.rejects(api.handle({ ...request, payload: json('-1') }), (e) => e === 'no negatives');
  // A sync method still gives a plain value, not a Promise.
  class Now extends Later {
    answer(_request, task) {
      return task + 1;
    }
  }
  assert.equal(new TextDecoder().decode(sdk.exportMiner(Now).handle(request).body), '22');
});

test('installSeededRandomness routes Math.random and crypto through the host', () => {
  const fake = { Math: { random: () => 0.5 }, crypto: {} };
  sdk.installSeededRandomness(fake);
  script([1n << 62n]);
  assert.equal(fake.Math.random(), 0.25, 'the host draw, as random.unit gives it');
  assert.equal(host.drawn, 1);
  const bytes = fake.crypto.getRandomValues(new Uint8Array(4));
  assert.deepEqual([...bytes], [0, 0, 0, 0], "the fake host's fill");
  assert.throws(() => fake.crypto.getRandomValues(new Float64Array(2)), TypeError);
  assert.match(fake.crypto.randomUUID(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('the engine check names the construct and the line, and skips comments', async () => {
  const { scanSource } = await import('../engine-check.mjs');
  const found = scanSource(
    "// Intl.NumberFormat in a comment\nconst r = /[^\\p{L}]+/u;\nconst s = t.normalize('NFC'); /* Intl.x */\nconst f = Intl.DateTimeFormat;\n",
  );
  assert.deepEqual(
    found.map((p) => [p.line, p.construct.split(' ')[0]]),
    [[2, 'a'], [3, 'String.prototype.normalize'], [4, 'Intl']],
  );
});
