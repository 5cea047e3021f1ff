// The smallest validator, as the subnet template's dummy: each miner gets a number and must
// answer with its double. Right answers score 1, anything else 0.
//
// The same subnet as examples/hello-subnet (Rust): same draws from the host's random stream,
// same scores, same reward, so the same seed gives the same weights.
import { Json, Score, TaskSpec, Validator, exportValidator, miners, random } from 'subnet-sdk';

class Hello extends Validator {
  taskCodec = Json.int;
  answerCodec = Json.int;

  generateTasks(ctx) {
    // One task per miner, each with its own number, so miners cannot copy each other.
    return miners(ctx).map((uid) => new TaskSpec(`double-${uid}`, [uid], random.below(1_000_000), 2_000));
  }

  score(_ctx, task, answers) {
    return answers.map((a) => new Score(a.uid, a.ok && a.answer === task * 2 ? 1.0 : 0.0));
  }
}

export const validatorApi = exportValidator(Hello);
