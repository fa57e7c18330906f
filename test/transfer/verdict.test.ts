import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TaskBaselines, TaskResult, describeVerdict, validationVerdict } from '../../src/transfer/tasks.js';

// Only the fields a verdict reads; the rest of a result or baseline set does not enter it.
const classify = (logLoss: number) => ({ type: 'classify', validation: { users: 10, accuracy: 0.7, logLoss } }) as unknown as TaskResult;
const regression = (logLoss: number) => ({
  majority: { accuracy: 0.7 }, logisticRegression: { accuracy: 0.75, validation: { accuracy: 0.75, logLoss } },
}) as unknown as TaskBaselines;
const ranked = (type: 'recommend' | 'next-item', ndcg: number) => ({ type, validationScore: ndcg }) as unknown as TaskResult;
const counts = (popularity: number, cooccurrence: number) => ({
  popularity: {}, cooccurrence: {}, validation: { popularity, cooccurrence },
}) as unknown as TaskBaselines;

describe('validation verdict', () => {
  it('classify: ahead only with a strictly lower validation log-loss than the bag-of-items regression', () => {
    assert.deepEqual(validationVerdict(classify(0.46), regression(0.49)),
      { metric: 'log-loss', task: 0.46, baseline: 'logistic regression on items', baselineValue: 0.49, ahead: true });
    assert.equal(validationVerdict(classify(0.52), regression(0.49)).ahead, false);
    assert.equal(validationVerdict(classify(0.49), regression(0.49)).ahead, false, 'a tie is not ahead');
  });

  it('recommend: judged against the better of popularity and co-occurrence', () => {
    const v = validationVerdict(ranked('recommend', 0.12), counts(0.01, 0.15));
    assert.deepEqual(v, { metric: 'NDCG@10', task: 0.12, baseline: 'item co-occurrence', baselineValue: 0.15, ahead: false });
    const p = validationVerdict(ranked('recommend', 0.12), counts(0.10, 0.05));
    assert.deepEqual([p.baseline, p.baselineValue, p.ahead], ['popularity', 0.10, true]);
  });

  it('next-item: judged against the id model trained on the target alone', () => {
    const b = { popularity: {}, idModel: { validation: { 'NDCG@10': 0.2 } } } as unknown as TaskBaselines;
    assert.equal(validationVerdict(ranked('next-item', 0.25), b).ahead, true);
    assert.equal(validationVerdict(ranked('next-item', 0.15), b).ahead, false);
  });

  it('says so in words when the baseline is as good', () => {
    assert.match(describeVerdict(validationVerdict(classify(0.52), regression(0.49))),
      /NOT ahead of the logistic regression on items \(log-loss 0\.5200 vs 0\.4900\): the baseline serves this task as well or better/);
    assert.match(describeVerdict(validationVerdict(classify(0.4), regression(0.49))), /^on the validation users the task is ahead of/);
  });
});
