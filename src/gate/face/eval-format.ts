// The human form of a face evaluation report: fits 80 columns.
import type { IdentificationPoint, VerificationPoint } from './eval-metrics.js';
import type { FaceEvalReport, IdentificationReport } from './eval-runner.js';

const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(2)} %` : 'n/a');
const num = (v: number | null) => (v === null ? 'none' : v.toFixed(4));

function verificationLines(points: readonly VerificationPoint[]): string[] {
  return points.flatMap((v) => [
    `  FAR ${pct(v.targetFar)}: threshold ${num(v.threshold)}` +
      ` (leave-one-person-out ${num(v.foldThresholds.min)}..${num(v.foldThresholds.max)})`,
    `    TAR ${pct(v.tar)} (${v.accepted}/${v.genuinePairs} genuine pairs,` +
      ` ${v.genuineWithoutDescriptor} without a descriptor)`,
    `    measured FAR ${pct(v.measuredFar)} (${v.falseAccepts}/${v.impostorPairs} impostor pairs)` +
      (v.resolvable ? '' : ' — target below 1/pairs'),
  ]);
}

function identPoint(label: string, p: IdentificationPoint): string[] {
  return [
    `  ${label}: threshold ${num(p.threshold)}`,
    `    FNIR ${pct(p.fnir)} (${p.misses}/${p.matedSearches} mated searches missed)`,
    `    measured FPIR ${pct(p.measuredFpir)} (${p.falsePositives}/${p.nonMatedSearches} non-mated searches)`,
  ];
}

function identLines(r: IdentificationReport): string[] {
  return [
    `  N = ${r.galleryPeople} people + ${r.distractors.count} SYNTHETIC distractors (seed ${r.distractors.seed})`,
    ...identPoint('FPIR 0', r.atFpir0),
    ...identPoint(`FPIR ${pct(r.atSmallestFpir.fpir)} (1 non-mated search allowed)`, r.atSmallestFpir),
  ];
}

export function formatFaceEval(r: FaceEvalReport): string {
  const lines = [
    `Face evaluation of ${r.dir}`,
    `${r.people} people, ${r.photos} photos; strangers (one photo): ${r.strangers.join(', ') || 'none'}`,
    `Detection: ${r.detection.failed}/${r.detection.attempted} originals gave no descriptor`,
    '',
    'Verification (1:1), originals:',
    ...verificationLines(r.verification),
    '',
    'Identification (1:N), originals as probes:',
    ...identLines(r.identification),
  ];
  if (r.augmented) {
    const a = r.augmented;
    lines.push('', `Augmented copies (${a.kinds.length} kinds) against original references:`);
    for (const k of a.kinds) {
      const v = a.perKind[k];
      lines.push(`  ${k.padEnd(15)} detection ${a.detection[k].failed}/${a.detection[k].attempted} failed,` +
        ` TAR ${pct(v.tar)} (${v.accepted}/${v.genuinePairs}) at FAR ${pct(v.targetFar)}`);
    }
    lines.push('All kinds together:', ...verificationLines(a.verification));
    lines.push('', 'Identification (1:N), originals and augmented copies as probes:', ...identLines(a.identification));
  }
  if (r.detection.failures.length) {
    lines.push('', 'Photos without a descriptor:');
    for (const f of r.detection.failures) lines.push(`  ${`${f.variant} ${f.photo}`.slice(-50).padEnd(50)} ${f.reason}`.slice(0, 80));
  }
  return lines.map((l) => (l.length > 80 ? l.slice(0, 79) + '…' : l)).join('\n');
}
