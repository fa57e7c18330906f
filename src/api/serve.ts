/** Starting the HTTP server from code: the same server as `graftrec serve`, quiet unless asked to log. */
import { DataError } from '../errors.js';
import { StartedServer, createServer } from '../serve/start.js';
import { ItemTextFile } from '../train/catalogue.js';

export interface ServeOptions {
  /** Base model directory. */
  model: string;
  /** Directory of task patch directories (each loaded onto the base). */
  patches?: string;
  /** A continual model grown from the base (`graftrec continual`): its tasks are served beside the patches. */
  continual?: string;
  /** Dataset to look `user` ids up in. */
  data?: string;
  /** TCP port (default 8080; 0 = any free port, see the returned url). */
  port?: number;
  /** Address to listen on (default 127.0.0.1: local only). */
  host?: string;
  /** New items a text base scores by their text. */
  itemText?: ItemTextFile;
  /** Reload tasks when the patch directory changes (default false). */
  watch?: boolean;
  ignoreUnknownItems?: boolean;
  /** Micro-batching window in ms (default 2; 0 = none) and the largest batch (default 64). */
  batchWaitMs?: number;
  maxBatch?: number;
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Bearer token for the admin routes (at least 16 characters); default: admin routes off. */
  adminToken?: string;
  /** pino log level (default silent) and where the JSON lines go (default stderr). */
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  logStream?: NodeJS.WritableStream;
}

export interface RunningServer extends StartedServer {
  /** Where it listens, e.g. http://127.0.0.1:8080. */
  url: string;
}

/** How serve's errors name the options: the library by option name, the command line by its flags. */
export interface ServeOptionNames {
  port: string;
  adminToken: string;
}

const OPTION_NAMES: ServeOptionNames = { port: 'the port option', adminToken: 'serve: adminToken' };

/**
 * Loads the base model and every patch, and listens (POST /v1/recommend, /v1/predict/:task, /v1/embed; GET
 * /v1/tasks, /healthz; OpenAPI at /docs/json). Call `close()` to stop it.
 *
 * @param names - what errors call the options (the command line names its flags).
 * @throws DataError for a bad option or a port in use; ModelError for a directory that is not a model.
 */
export async function serve(options: ServeOptions, names: ServeOptionNames = OPTION_NAMES): Promise<RunningServer> {
  const port = options.port ?? 8080;
  const host = options.host ?? '127.0.0.1';
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new DataError(`serve: port must be an integer in [0, 65535], got ${port}`);
  const adminToken = options.adminToken ?? null;
  if (adminToken !== null && adminToken.length < 16) throw new DataError(`${names.adminToken} must be at least 16 characters`);
  const server = await createServer({
    model: options.model, itemText: options.itemText ?? null, patches: options.patches ?? null, continual: options.continual ?? null,
    data: options.data ?? null,
    watch: options.watch ?? false, ignoreUnknownItems: options.ignoreUnknownItems ?? false, batchWaitMs: options.batchWaitMs ?? 2,
    maxBatch: options.maxBatch ?? 64, bodyLimit: options.bodyLimit ?? 1 << 20, adminToken,
    logger: { level: options.logLevel ?? 'silent', stream: options.logStream ?? process.stderr },
  });
  try {
    return { ...server, url: await server.app.listen({ port, host }) };
  } catch (err) {
    await server.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new DataError(`port ${port} on ${host} is already in use; choose another with ${names.port} (0 = any free port)`);
    if (code === 'EADDRNOTAVAIL' || code === 'EACCES') throw new DataError(`cannot listen on ${host}:${port} (${code})`);
    throw err;
  }
}
