/** The markdown report of a CAMELYON-style study (see camelyon-study.ts). */
import type { AucWithCi } from '../eval/auc.ts';
import type { FrocReport } from '../eval/evaluate.ts';
import type { AttentionMass } from './attention-mass.ts';

export interface StudyReport {
  outDir: string;
  dbPath: string;
  trainSlides: number;
  trainTumour: number;
  testSlides: number;
  testTumour: number;
  runs: { infer: number; embed: number; mil: number };
  classifier: { dir: string; steps: number; valAuc?: number };
  milDir: string;
  fcnAuc: AucWithCi | null;
  milAuc: AucWithCi | null;
  froc: FrocReport | null;
  rocFile: string | null;
  attention: (AttentionMass & { name: string; probability: number })[];
  galleries: {
    name: string;
    label: 0 | 1;
    probability: number;
    file: string;
    patches: { x: number; y: number; attention: number }[];
    /** [patch | gradient | Grad-CAM] strips of the top patches (files relative to the report). */
    saliency?: { file: string; x: number; y: number; score: number }[];
  }[];
  perSlide: {
    name: string;
    label: 0 | 1;
    fcn: number;
    mil: number;
    /** Out-of-distribution verdict against the classifier's training slides (absent: no statistics). */
    outOfDistribution?: boolean;
    oodReason?: string;
  }[];
  timings: Record<string, number>;
}

const f3 = (v: number) => v.toFixed(3);
const auc = (a: AucWithCi | null) =>
  a ? `${f3(a.auc)} | ${f3(a.ci95[0])} – ${f3(a.ci95[1])}` : 'n/a (test set lacks a class) | ';

export function renderStudyReport(r: StudyReport): string {
  const lines = [
    '# CAMELYON-style study',
    '',
    `Training: ${r.trainSlides} slides (${r.trainTumour} tumour). Test: ${r.testSlides} slides (${r.testTumour} tumour).`,
    `Store: \`${r.dbPath}\` (FCN run ${r.runs.infer}, embed run ${r.runs.embed}, MIL run ${r.runs.mil}); browse with`,
    `\`wsi serve --db ${r.dbPath}\`.`,
    '',
    '## Models',
    '',
    `- Patch classifier (CASED sampling, ${r.classifier.steps} steps): \`${r.classifier.dir}\`` +
      (r.classifier.valAuc !== undefined ? `, validation patch AUC ${f3(r.classifier.valAuc)}` : ''),
    `- Attention-MIL (gated attention over the classifier's features, slide labels only): \`${r.milDir}\``,
    '',
    '## Slide classification (test slides)',
    '',
    '| method | AUC | 95% CI (bootstrap) |',
    '|---|---|---|',
    `| attention-MIL | ${auc(r.milAuc)} |`,
    `| FCN heatmap, slide score = max | ${auc(r.fcnAuc)} |`,
    '',
  ];
  if (r.rocFile) lines.push(`![ROC](${r.rocFile})`, '');
  lines.push('## Lesion detection (test slides, CAMELYON16 FROC)', '');
  if (r.froc) {
    lines.push(
      `FROC score ${f3(r.froc.froc)} over ${r.froc.slides} slides and ${r.froc.lesions} lesions ` +
        `(${r.froc.truePositives} found, ${r.froc.falsePositives} false positives at the loosest threshold).`,
      '',
      `| FPs per slide | ${r.froc.fpRates.join(' | ')} |`,
      `|---|${r.froc.fpRates.map(() => '---').join('|')}|`,
      `| sensitivity | ${r.froc.sensitivities.map(f3).join(' | ')} |`,
      '',
    );
  } else {
    lines.push('Not computed: the test slides have no lesion larger than isolated tumour cells.', '');
  }
  lines.push('## Where attention goes (positive test slides)', '');
  if (r.attention.length) {
    lines.push(
      'Attention mass = summed attention of patches whose centre is in annotated tumour (attention sums to 1 per slide);',
      'tumour share = fraction of the slide’s tissue patches there.',
      '',
      '| slide | MIL probability | attention mass in tumour | tumour share of patches | patches in tumour |',
      '|---|---|---|---|---|',
      ...r.attention.map(
        (a) =>
          `| ${a.name} | ${f3(a.probability)} | ${f3(a.mass)} | ${f3(a.share)} | ${a.inside} / ${a.patches} |`,
      ),
      '',
    );
  } else {
    lines.push('No positive test slide with annotated tumour.', '');
  }
  lines.push('## Top attention patches', '');
  for (const g of r.galleries) {
    lines.push(
      `**${g.name}** (${g.label ? 'tumour' : 'normal'}, MIL probability ${f3(g.probability)}): ` +
        g.patches.map((p) => `(${p.x}, ${p.y}) ${f3(p.attention)}`).join(', '),
      '',
      `![top attention patches of ${g.name}](${g.file})`,
      '',
    );
    // Saliency: does the classifier look at nuclei, or at stain and background?
    for (const sp of g.saliency ?? [])
      lines.push(
        `Saliency at (${sp.x}, ${sp.y}), classifier score ${f3(sp.score)} — patch | gradient | Grad-CAM:`,
        '',
        `![saliency of ${g.name} at (${sp.x}, ${sp.y})](${sp.file})`,
        '',
      );
  }
  lines.push(
    '## Per-slide scores (test)',
    '',
    '| slide | label | FCN max score | MIL probability | distribution |',
    '|---|---|---|---|---|',
    ...r.perSlide.map(
      (s) =>
        `| ${s.name} | ${s.label ? 'Tumor' : 'Normal'} | ${f3(s.fcn)} | ${f3(s.mil)} |` +
        (s.outOfDistribution
          ? ` ⚠ out of distribution: ${s.oodReason} |`
          : s.outOfDistribution === false
            ? ' in |'
            : ' not checked |'),
    ),
    '',
    '## Stage times',
    '',
    ...Object.entries(r.timings).map(([k, v]) => `- ${k}: ${v.toFixed(1)} s`),
    '',
  );
  return lines.join('\n');
}
