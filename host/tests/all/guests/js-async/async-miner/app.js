// Answers each number with its double from an async method that awaits before answering; a
// negative number is refused by rejecting.
import { Json, Miner, SubnetError, exportMiner } from 'subnet-sdk';

class AsyncDoubler extends Miner {
  taskCodec = Json.int;
  answerCodec = Json.int;

  async answer(_request, task) {
    await Promise.resolve();
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (task < 0) throw new SubnetError('negative numbers are not doubled here');
    return task * 2;
  }
}

export const minerApi = exportMiner(AsyncDoubler);
