/** What the shadows proved: evidence per (kind, model, cheaper model), and when a cheaper model has proven itself. */
import { usd } from '../pricing/catalog';
import type { LearningConfig, VariantEvidence, VariantEvidenceSummary } from './learning-state';

export function evidenceKey(kind: string, fromModel: string, toModel: string): string {
  return `${kind}|${fromModel}>${toModel}`;
}

export function preferenceKey(kind: string, fromModel: string): string {
  return `${kind}|${fromModel}`;
}

export function summarizeEvidence(e: VariantEvidence): VariantEvidenceSummary {
  const r = (x: number) => Math.round(x * 1e4) / 1e4;
  return {
    samples: e.qualityShadow.n,
    qualityFull: r(e.qualityFull.mean),
    qualityShadow: r(e.qualityShadow.mean),
    costFullUsd: usd(e.costFull.mean),
    costShadowUsd: usd(e.costShadow.mean),
  };
}

/** Has the cheaper model shown, over enough samples, quality within tolerance at a lower cost? */
export function hasProvenItself(
  e: VariantEvidence,
  config: Pick<LearningConfig, 'minSamples' | 'qualityTolerance'>,
): boolean {
  return (
    e.qualityShadow.n >= config.minSamples &&
    e.qualityShadow.mean >= e.qualityFull.mean - config.qualityTolerance &&
    e.costShadow.mean < e.costFull.mean
  );
}
