/**
 * `--distributed`: runs a command's work with the MPI job's communicator. A rank that fails prints its error and
 * ends the whole job (MPI_Abort): the other ranks would otherwise wait for it in their next collective forever.
 * A rank killed outright is the launcher's to notice: mpirun ends the others when one exits abnormally.
 */
import { Communicator, launcherEnvironment, openCommunicator } from '../distributed/communicator.js';
import { DistributedError, GraftrecError } from '../errors.js';

export async function withCommunicator<T>(distributed: boolean | undefined, body: (comm: Communicator | null) => Promise<T>): Promise<T> {
  if (!distributed) {
    // N ranks without --distributed would each train the whole model alone and write the same files.
    const world = launcherEnvironment();
    if (world && world.size > 1) {
      throw new DistributedError(`started as one of ${world.size} MPI ranks without --distributed: add --distributed to train one model over them, or run a single process`);
    }
    return body(null);
  }
  const comm: Communicator = openCommunicator();
  let result: T;
  try {
    result = await body(comm);
  } catch (err) {
    const message = err instanceof GraftrecError ? `${err.name}: ${err.message}` : (err as Error).stack ?? String(err);
    process.stderr.write(`graftrec: rank ${comm.rank} of ${comm.size}: ${message}\n`);
    comm.abort(1);
  }
  comm.finalize();
  return result;
}
