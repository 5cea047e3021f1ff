// Test validator with async methods. `generateTasks` fetches every URL listed (a JSON array)
// in kv key `urls`, in order, with the global `fetch`, and returns one task per URL whose
// payload says what came back: `{"status", "body"}` or `{"error"}`; then one task `double`
// (the number 21) for miner 1, and one task `random` holding what the engine's own randomness
// gave (`Math.random`, `crypto.getRandomValues`, `crypto.randomUUID`), which the SDK routes
// through the host's seeded `random`. `score` awaits a timer before scoring `double` answers: 1 for
// twice the task, else 0.
import { Json, Score, TaskSpec, Validator, exportValidator, kv } from 'subnet-sdk';

async function fetchOne(url) {
  try {
    const response = await fetch(url);
    return { status: response.status, body: await response.text() };
  } catch (e) {
    return { error: `${e?.name ?? 'Error'}: ${e?.message ?? e}` };
  }
}

class AsyncProbe extends Validator {
  taskCodec = Json.any;
  answerCodec = Json.any;

  async generateTasks(_ctx) {
    const urls = kv.getJson('urls') ?? [];
    const specs = [];
    for (const [i, url] of urls.entries()) {
      specs.push(new TaskSpec(`fetch-${i}`, [1], await fetchOne(url)));
    }
    specs.push(new TaskSpec('double', [1], 21));
    specs.push(
      new TaskSpec('random', [1], {
        math: [Math.random(), Math.random()],
        bytes: [...crypto.getRandomValues(new Uint8Array(8))],
        uuid: crypto.randomUUID(),
      }),
    );
    return specs;
  }

  async score(_ctx, task, answers) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    return answers.map((a) => new Score(a.uid, a.ok && a.answer === task * 2 ? 1 : 0));
  }
}

export const validatorApi = exportValidator(AsyncProbe);
