// graftrec as a library, end to end: a synthetic click log → a dataset → a tiny pretrained model → its metrics →
// a PeterRec patch that predicts a user attribute → predictions. Prints one JSON object.
//
//   node examples/quickstart.mjs [work-dir]
//
// Everything comes from the package's public entry point (inside this repository, `graftrec` resolves to the
// package itself through its "exports").
import { evaluate, finetune, ingest, loadModel, loadPatch, predict, pretrain, recommend, synth } from 'graftrec';

const dir = process.argv[2] ?? `graftrec-quickstart-${Date.now()}`;

// 600 users in one domain; each user's gender drives part of their taste (see src/data/synth.ts).
const log = await synth({ out: `${dir}/raw`, users: 600, items: 200, domains: 1, meanLength: 12, seed: 1 });
const data = await ingest({ input: `${dir}/raw/interactions.csv`, attributes: `${dir}/raw/users.csv`, out: `${dir}/ds` });

// A tiny NextItNet: 32 channels, 2 residual blocks, a few epochs. Other settings keep their defaults.
const trained = await pretrain({
  data: `${dir}/ds`, out: `${dir}/model`,
  model: { dim: 32, blocks: 2, maxLen: 20 }, train: { epochs: 8, lr: 0.003, seed: 1 },
});
const model = await loadModel(`${dir}/model`);
const metrics = await evaluate(model, { data: `${dir}/ds`, ks: [10] });

// Graft patches into the frozen network and train them (with the head) to predict gender.
const gender = await finetune({
  model: `${dir}/model`, data: `${dir}/ds`, task: 'gender', label: 'gender', out: `${dir}/patches/gender`,
  epochs: 8, seed: 1, force: true,
});
const task = await loadPatch(`${dir}/patches/gender`, model);
const users = ['u1', 'u2', 'u3', 'u4', 'u5'];
const answers = await predict(task, { users, data: `${dir}/ds` });
const next = await recommend(model, { users: users.slice(0, 1), data: `${dir}/ds` }, { k: 3 });

console.log(JSON.stringify({
  dataset: { users: data.users, items: data.items, interactions: data.interactions, syntheticUsers: log.users },
  pretrain: { epochs: trained.epochs, bestEpoch: trained.bestEpoch, bestValidNDCG10: trained.bestValid },
  evaluate: { users: metrics.users, model: metrics.metrics, popularity: metrics.popularity },
  finetune: {
    strategy: gender.strategy, trainedParams: gender.trainedParams, totalParams: gender.totalParams,
    accuracy: gender.test.accuracy, majority: gender.baselines.majority?.accuracy,
  },
  predict: users.map((user, i) => ({ user, label: answers[i].label, probabilities: answers[i].probabilities })),
  recommend: { user: users[0], items: next[0] },
}, null, 2));
