/**
 * A real DICOMweb server for tests: Debian's Orthanc with its DicomWeb plugin, on a free loopback
 * port, storing into a temporary folder. Upload Part 10 files with its REST API, read them back
 * through DICOMweb, stop it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { tempDir } from './paths.ts';

export const ORTHANC_BIN = '/usr/sbin/Orthanc';
const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

export interface OrthancServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** http://127.0.0.1:PORT/dicom-web */
  dicomWeb: string;
  /** Uploads Part 10 files; returns the DICOMweb URL of each series uploaded (study/series). */
  upload(files: readonly string[]): Promise<string[]>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function startOrthanc(): Promise<OrthancServer> {
  const tmp = tempDir('orthanc');
  const port = await freePort();
  const config = {
    Name: 'wsi-pipeline-test',
    StorageDirectory: path.join(tmp.path, 'storage'),
    IndexDirectory: path.join(tmp.path, 'index'),
    HttpPort: port,
    DicomServerEnabled: false,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    HttpBindAddress: '127.0.0.1',
    Plugins: [DICOMWEB_PLUGIN],
    DicomWeb: {
      Enable: true,
      Root: '/dicom-web/',
      EnableWado: false,
      StudiesMetadata: 'Full',
      SeriesMetadata: 'Full',
    },
  };
  const configFile = path.join(tmp.path, 'orthanc.json');
  writeFileSync(configFile, JSON.stringify(config));
  const proc: ChildProcess = spawn(ORTHANC_BIN, [configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr?.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`Orthanc exited (${proc.exitCode}): ${log}`);
    try {
      const r = await fetch(`${url}/system`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`Orthanc did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    dicomWeb: `${url}/dicom-web`,
    async upload(files) {
      const series = new Set<string>();
      for (const f of files) {
        const r = await fetch(`${url}/instances`, { method: 'POST', body: readFileSync(f) });
        if (!r.ok) throw new Error(`upload of ${f} failed: HTTP ${r.status} ${await r.text()}`);
        const { ParentSeries } = (await r.json()) as { ParentSeries: string };
        series.add(ParentSeries);
      }
      const out: string[] = [];
      for (const id of series) {
        const s = (await (await fetch(`${url}/series/${id}`)).json()) as {
          MainDicomTags: { SeriesInstanceUID: string };
          ParentStudy: string;
        };
        const st = (await (await fetch(`${url}/studies/${s.ParentStudy}`)).json()) as {
          MainDicomTags: { StudyInstanceUID: string };
        };
        out.push(
          `${url}/dicom-web/studies/${st.MainDicomTags.StudyInstanceUID}/series/${s.MainDicomTags.SeriesInstanceUID}`,
        );
      }
      return out;
    },
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      tmp.cleanup();
    },
  };
}
