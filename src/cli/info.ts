import { Command } from 'commander';
import { DirectoryInfo, describeDirectory } from '../api/info.js';
import { Provenance } from '../config/provenance.js';
import { describeProvenance } from '../train/provenance.js';
import { describeVerdict } from '../transfer/tasks.js';

const num = (v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(4) : String(v));

function provenanceLines(p: Provenance | null): string[] {
  if (p === null) return ['provenance  none recorded'];
  const d = describeProvenance(p);
  return [`provenance  ${d.code}`, `backend     ${d.backend}`, `seed        ${d.seed}`, `data        ${d.data}`];
}

function describe(i: DirectoryInfo): string {
  if (i.kind === 'dataset') {
    return [
      `dataset     ${i.dir}`,
      `size        ${i.users} users, ${i.items} items, ${i.interactions} interactions`,
      ...(i.domains ? [`domains     ${i.domains.join(', ')}`] : []),
      ...(i.attributes.length > 0 ? [`attributes  ${i.attributes.join(', ')}`] : []),
      ...(i.itemText ? ['item text   yes'] : []),
      ...(i.itemFeatures !== null ? [`item vectors ${i.itemFeatures} floats`] : []),
      `sha256      ${i.sha256}`,
    ].join('\n');
  }
  if (i.kind === 'continual') {
    return [
      `continual   ${i.dir} (${i.backbone}, ${i.tasks.length} tasks)`,
      ...i.tasks.map((t, k) => `task ${String(k + 1).padEnd(7)}${t.name} (${t.type}): keeps ${t.keep} of the free weights, owns ${t.owned.toLocaleString('en-US')}, ${t.freeAfter.toLocaleString('en-US')} free after it`),
      `base        sha256 ${i.baseFingerprint}`,
      ...provenanceLines(i.provenance),
    ].join('\n');
  }
  if (i.kind === 'model') {
    const shape = Object.entries(i.shape).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(',') : v}`).join(', ');
    const t = i.training;
    return [
      `model       ${i.dir}`,
      `network     ${i.backbone} (${i.objective}), ${i.itemEncoder} items; ${shape}`,
      `size        ${i.items} items, ${i.parameters.toLocaleString('en-US')} parameters`,
      `trained on  ${i.dataset}`,
      t ? `metrics     best validation NDCG@10 ${t.bestValidNDCG10.toFixed(4)} at epoch ${t.bestEpoch} of ${t.epochs}${t.stoppedEarly ? ' (early stop)' : ''}` : 'metrics     no epoch finished',
      ...provenanceLines(i.provenance),
    ].join('\n');
  }
  const target = i.type === 'classify'
    ? `label ${i.label}: ${i.classes!.join(', ')}`
    : `${i.sourceDomain ? `${i.sourceDomain} -> ${i.targetDomain}, ` : ''}${i.targetItems} target items`;
  const test = Object.entries(i.test).filter(([, v]) => typeof v === 'number').map(([k, v]) => `${k} ${num(v)}`).join(', ');
  return [
    `patch       ${i.dir}`,
    `task        ${i.task} (${i.type}): ${target}`,
    `training    ${i.strategy}${i.insertion ? `, ${i.insertion}` : ''} on a ${i.backbone} base; ${i.trainedParams.toLocaleString('en-US')} of ${i.totalParams.toLocaleString('en-US')} parameters trained`,
    `test        ${test}`,
    ...(i.verdict ? [`validation  ${describeVerdict(i.verdict)}`] : []),
    `base        sha256 ${i.baseFingerprint}`,
    ...provenanceLines(i.provenance),
  ].join('\n');
}

export function infoCommand(): Command {
  return new Command('info')
    .description('Say what a model, patch, continual model or dataset directory is: its kind, shape, items, task, metrics and provenance')
    .argument('<dir>', 'a model directory (pretrain), patch directory (finetune) or dataset directory (ingest)')
    .option('--json', 'print one JSON object')
    .action(async (dir: string, f: { json?: boolean }) => {
      const info = await describeDirectory(dir);
      console.log(f.json ? JSON.stringify(info) : describe(info));
    });
}
