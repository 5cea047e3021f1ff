// Answers each number with its double, synchronously.
import { Json, Miner, exportMiner } from 'subnet-sdk';

class SyncDoubler extends Miner {
  taskCodec = Json.int;
  answerCodec = Json.int;

  answer(_request, task) {
    return task * 2;
  }
}

export const minerApi = exportMiner(SyncDoubler);
