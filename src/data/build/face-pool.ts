// Face analysis (decoding, detection, landmarks, crop encoding) is the CPU-heavy part of a build. With more than
// one worker it runs in worker threads, each with its own face expert; the main thread reads the sources and
// writes the output. Each thread does the cache lookup and write itself, so only the file's bytes go in (moved,
// not copied twice) and only paths and landmarks come back.
import { Worker } from 'node:worker_threads';
import { FaceCache, type FaceEntry, type NoFace } from '../cache.js';
import { resolveFace, type FaceExpert } from './face.js';

export interface FaceResolver {
  resolve(bytes: Buffer): Promise<FaceEntry | NoFace>;
  close(): Promise<void>;
}

/** Resolves faces on this thread. */
export function localResolver(cacheDir: string, expert: FaceExpert): FaceResolver {
  const cache = new FaceCache(cacheDir, expert.id);
  return {
    resolve: (bytes) => resolveFace(cache, expert, bytes),
    close: () => expert.close(),
  };
}

export interface WorkerRequest {
  seq: number;
  bytes: Uint8Array;
}
export type WorkerReply = { seq: number; result: FaceEntry | NoFace } | { seq: number; error: string };
export interface WorkerData {
  cacheDir: string;
}

/** Tasks a thread holds at once: one computing while the next one's cache lookup or write waits on the disk. */
const PER_WORKER = 2;

/**
 * A face worker thread running `face-worker.js` beside this module; when running from the TypeScript sources
 * (tsx, vitest) the thread first registers tsx's loader, since worker threads do not inherit loader hooks.
 */
function startWorker(data: WorkerData): Worker {
  const self = new URL(import.meta.url);
  if (!self.pathname.endsWith('.ts')) return new Worker(new URL('./face-worker.js', self), { workerData: data });
  const script = new URL('./face-worker.ts', self).href;
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(script)}); })`;
  return new Worker(boot, { eval: true, workerData: data });
}

export async function workerResolver(count: number, cacheDir: string): Promise<FaceResolver> {
  const pending = new Map<number, { resolve: (r: FaceEntry | NoFace) => void; reject: (e: Error) => void }>();
  const queue: WorkerRequest[] = [];
  const load = new Map<Worker, number>();
  let seq = 0;
  let failure: Error | undefined;

  const dispatch = (): void => {
    while (queue.length > 0) {
      const [worker, busy] = [...load].sort((a, b) => a[1] - b[1])[0];
      if (busy >= PER_WORKER) return;
      const request = queue.shift()!;
      load.set(worker, busy + 1);
      worker.postMessage(request, [request.bytes.buffer as ArrayBuffer]);
    }
  };
  const fail = (err: Error): void => {
    failure ??= err;
    for (const { reject } of pending.values()) reject(failure);
    pending.clear();
  };

  const workers = Array.from({ length: count }, () => startWorker({ cacheDir }));
  const started = await Promise.allSettled(
    workers.map(
      (worker) =>
        new Promise<void>((resolve, reject) => {
          worker.once('message', (message: { ready?: true; error?: string }) =>
            message.ready ? resolve() : reject(new Error(`a face worker failed to start: ${message.error}`)),
          );
          worker.once('error', reject);
        }),
    ),
  );
  const refused = started.find((result) => result.status === 'rejected');
  if (refused) {
    await Promise.all(workers.map((worker) => worker.terminate()));
    throw refused.reason;
  }
  for (const worker of workers) {
    worker.on('message', (reply: WorkerReply) => {
      load.set(worker, load.get(worker)! - 1);
      const waiter = pending.get(reply.seq);
      pending.delete(reply.seq);
      if ('error' in reply) waiter?.reject(new Error(reply.error));
      else waiter?.resolve(reply.result);
      dispatch();
    });
    worker.on('error', fail);
    worker.on('exit', (code) => code !== 0 && fail(new Error(`a face worker exited with code ${code}`)));
    load.set(worker, 0);
  }

  return {
    resolve(bytes) {
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        const request: WorkerRequest = { seq: seq++, bytes: new Uint8Array(bytes) }; // a private copy to move
        pending.set(request.seq, { resolve, reject });
        queue.push(request);
        dispatch();
      });
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}
