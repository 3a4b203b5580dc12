/**
 * `wsi export annotations`: a slide's annotations from the store (imported ASAP/GeoJSON files and those
 * drawn in the viewer, with author and time) as QuPath GeoJSON and ASAP XML.
 */
import { writeFileSync } from 'node:fs';
import { toAsapXml } from '../annotations/asap.ts';
import { toGeoJson } from '../annotations/geojson.ts';
import { loadAnnotations } from '../store/annotations-queries.ts';
import type { ExportContext, ExportResult } from './context.ts';
import { outPath, slideStems } from './files.ts';

export interface AnnotationExportOptions {
  /** Only annotations of this source (a file name, or 'viewer' for those drawn in the viewer). */
  source?: string;
}

export function exportAnnotations(ctx: ExportContext, o: AnnotationExportOptions): ExportResult {
  const stems = slideStems(ctx.slides);
  const files: string[] = [];
  const notes: string[] = [];
  for (const slide of ctx.slides) {
    const rows = loadAnnotations(ctx.store, slide.id, { source: o.source });
    if (rows.length === 0) {
      notes.push(`${slide.name}: no annotations${o.source ? ` from ${o.source}` : ''}`);
      continue;
    }
    // Names are unique per source; prefix the source when several are exported together.
    const multi = new Set(rows.map((r) => r.source)).size > 1;
    const list = rows.map((r) => ({ ...r, name: multi ? `${r.source}: ${r.name}` : r.name }));
    const geo = toGeoJson(list);
    geo.features.forEach((f, i) => {
      const r = rows[i];
      Object.assign(f.properties.metadata, {
        source: r.source,
        ...(r.author ? { author: r.author } : {}),
        ...(r.createdAt ? { created: r.createdAt } : {}),
        ...(r.updatedAt ? { updated: r.updatedAt } : {}),
      });
    });
    const stem = stems.get(slide.id)!;
    const gj = outPath(ctx.outDir, `${stem}.annotations.geojson`);
    const xml = outPath(ctx.outDir, `${stem}.annotations.xml`);
    writeFileSync(gj, `${JSON.stringify(geo)}\n`);
    writeFileSync(xml, toAsapXml(list));
    files.push(gj, xml);
  }
  return { files, notes };
}
