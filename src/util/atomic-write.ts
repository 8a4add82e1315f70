// Whole-file writes that a reader (or a killed writer) never sees half done: the data goes to a temporary file in
// the same folder, named per process and call so concurrent writers never share one, which is then renamed over
// the target (atomic within one file system). A failed write removes its temporary file.
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, data);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
