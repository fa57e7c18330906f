/**
 * `--distributed`: runs a command's work with the MPI job's communicator. A rank that fails prints its error and
 * ends the whole job (MPI_Abort): the other ranks would otherwise wait for it in their next collective forever.
 * A rank killed outright is the launcher's to notice: mpirun ends the others when one exits abnormally.
 */
import { Communicator, openCommunicator } from '../distributed/communicator.js';
import { GraftrecError } from '../errors.js';

export async function withCommunicator<T>(distributed: boolean | undefined, body: (comm: Communicator | null) => Promise<T>): Promise<T> {
  if (!distributed) return body(null);
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
