// A face worker thread (see face-pool.ts): one face expert, resolving files through the shared disk cache.
import { parentPort, workerData } from 'node:worker_threads';
import { FaceCache } from '../cache.js';
import { createFaceExpert } from './face-expert.js';
import { resolveFace } from './face.js';
import type { WorkerData, WorkerReply, WorkerRequest } from './face-pool.js';

const port = parentPort!;
const { cacheDir } = workerData as WorkerData;

try {
  const expert = await createFaceExpert();
  const cache = new FaceCache(cacheDir, expert.id);
  port.on('message', (request: WorkerRequest) => {
    resolveFace(cache, expert, Buffer.from(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength)).then(
      (result) => port.postMessage({ seq: request.seq, result } satisfies WorkerReply),
      (err: unknown) => port.postMessage({ seq: request.seq, error: err instanceof Error ? err.message : String(err) } satisfies WorkerReply),
    );
  });
  port.postMessage({ ready: true });
} catch (err) {
  port.postMessage({ error: err instanceof Error ? err.message : String(err) });
}
