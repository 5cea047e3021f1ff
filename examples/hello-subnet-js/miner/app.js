// The honest hello-subnet miner: answers each number with its double.
import { Json, Miner, SubnetError, exportMiner } from 'subnet-sdk';

class Doubler extends Miner {
  taskCodec = Json.int;
  answerCodec = Json.int;

  answer(_request, task) {
    if (task < 0 || !Number.isSafeInteger(task * 2)) throw new SubnetError('number too large');
    return task * 2;
  }
}

export const minerApi = exportMiner(Doubler);
